#!version:1.0.0.1
## deskgate: boot file of 00:15:65:00:00:01 (yealink-t54w). Generated: edits are overwritten.
include:config "001565000001.cfg"
