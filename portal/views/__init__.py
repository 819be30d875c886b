"""Pages of the vendor portal (/portail/), in French; each view is decorated by
`portal.access.portal_page` and scopes everything with the signed-in person's vendor."""
