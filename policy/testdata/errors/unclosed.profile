profile unclosed { # ERROR "missing '}' to close the profile unclosed opened here"
  /etc/passwd r,
