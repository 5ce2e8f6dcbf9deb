package directory

// The office's time zone is loaded with time.LoadLocation. Embedding the
// zone database (about 450 KB) keeps that working on appliances whose image
// has no /usr/share/zoneinfo; the system database is still used first.
import _ "time/tzdata"
