"""The only writers of payment claims, filings and recoveries."""
