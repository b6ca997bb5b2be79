# Checked with --target 4.1: the userns rule is more than abi 3.0 expresses.
abi <abi/3.0>,

profile newer /usr/bin/newer {
  /usr/bin/newer mr,
  userns, # want "L011"
}
