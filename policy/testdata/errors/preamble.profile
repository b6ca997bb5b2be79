@{VAR} = /a /b, # ERROR "an assignment ends at the end of the line, without ','"
$flag = true false # ERROR "a boolean takes one value"
$flag2 /x # ERROR "expected '=' after boolean"
} # ERROR "expected a rule, found '}'"
alias /a /b, # ERROR "expected '->'"
profile ok {
}
