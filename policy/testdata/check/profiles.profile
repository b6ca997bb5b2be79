# Profile-level errors: names, flags, duplicates, preamble placement.
@{ROOT}=/opt
@{ROOT}=/srv # ERROR "variable @\\{ROOT\\} is already defined; use \\+= to add values"
@{NEW}+=/x # ERROR "appends to a variable that is not defined"
@{SELF}=@{SELF}/a
$B=maybe # ERROR "boolean \\$B must be true or false|comment after a boolean"
alias usr/ -> /mnt/usr/, # ERROR "alias path usr/ must be absolute"

foo { # ERROR "unknown rule \"foo\""
}

profile dup {
}

profile dup { # ERROR "profile dup is defined twice"
}

profile flags flags=(complain, bogus) { # ERROR "unknown profile flag \"bogus\""
}

profile modes flags=(enforce, complain) { # ERROR "conflicting profile modes"
}

profile repeated flags=(complain, attach_disconnected, complain) {
}

profile v4flags flags=(default_allow) { # ERROR "profile flag default_allow needs AppArmor 4"
}

profile body {
  @{SELF} r, # ERROR "refers to itself"
  @{X}=/a # ERROR "variable @\\{X\\} is defined inside a profile"
  alias /a/ -> /b/, # ERROR "alias inside a profile"
  profile child {
  }
  profile child { # ERROR "profile child is defined twice"
  }
  ^hat {
  }
}

@{LATE}=/x # ERROR "defined after a profile"
