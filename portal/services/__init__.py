"""The only writers of the portal's own rows (sign-in failures, second factors, vendor members,
bulk order files); every change of an order, a VA or a claim goes through sons and payments."""
