CREATE TABLE `canonical_ids` (
	`CanonicalId` char(8) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
	`Status` enum('free','assigned') NOT NULL DEFAULT 'free',
	`CreatedAt` timestamp(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
	CONSTRAINT `canonical_ids_CanonicalId` PRIMARY KEY(`CanonicalId`)
);
--> statement-breakpoint
CREATE TABLE `identifiers` (
	`OntologyType` varbinary(64) NOT NULL,
	`SourceSystem` varbinary(255) NOT NULL,
	`SourceId` varbinary(1020) NOT NULL,
	`CanonicalId` char(8) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
	`CreatedAt` timestamp(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
	CONSTRAINT `identifiers_pk` PRIMARY KEY(`OntologyType`,`SourceSystem`,`SourceId`)
);
--> statement-breakpoint
ALTER TABLE `identifiers` ADD CONSTRAINT `identifiers_CanonicalId_canonical_ids_CanonicalId_fk` FOREIGN KEY (`CanonicalId`) REFERENCES `canonical_ids`(`CanonicalId`) ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX `identifiers_canonical_id` ON `identifiers` (`CanonicalId`);