profile { # ERROR "expected a profile name"
}
profile h1 /usr/bin/h1 flags=(complain { # ERROR "expected a profile flag or '[)]'"
}
profile h2 /usr/bin/h2 garbage { # ERROR "expected '{' to open the profile h2"
}
{ # ERROR "unexpected '{'"
}
