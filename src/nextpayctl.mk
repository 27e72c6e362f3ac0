# nextpayctl: built by a later change.
