# A profile file with no abi line.
profile noabi /usr/bin/noabi { # want "L001"
  /usr/bin/noabi mr,
}
