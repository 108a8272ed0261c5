import { ApiProperty } from '@nestjs/swagger';

export class ChainBreakDto {
  @ApiProperty({ description: 'First seq at which the chain differs from what was written (for a gap or a range: its first seq)' }) seq!: number;
  @ApiProperty({ type: Number, nullable: true, description: 'Last seq of the affected range (rows missing, rows a checkpoint no longer matches); null for one row' })
  lastSeq!: number | null;
  @ApiProperty({
    enum: ['seq_gap', 'prev_hash_mismatch', 'hash_mismatch', 'seal_mismatch', 'unsealed_row', 'checkpoint_mismatch', 'checkpoint_invalid', 'rows_missing', 'tombstone_invalid'],
    description:
      'seq_gap / prev_hash_mismatch / hash_mismatch: the chain itself is broken; seal_mismatch: the row is not the one the auditor sealed (rewritten, the chain recomputed); unsealed_row: a row the auditor did not append; checkpoint_mismatch: a signed checkpoint vouches for another hash (rows seq..lastSeq rewritten); checkpoint_invalid: a checkpoint whose signature does not hold; rows_missing: rows seq..lastSeq removed (a truncated tail)',
  })
  reason!: string;
  @ApiProperty({ type: String, nullable: true, description: 'The hash the chain requires here (previous row hash, or the recomputed hash)' })
  expectedHash!: string | null;
  @ApiProperty({ type: String, nullable: true, description: 'The hash the row holds' }) actualHash!: string | null;
  @ApiProperty() detail!: string;
}

export class VerifyResultDto {
  @ApiProperty() tenantId!: string;
  @ApiProperty({ description: 'True when every row links to the previous one and matches its hash' }) ok!: boolean;
  @ApiProperty({ description: 'Rows read by this verification: those after fromSeq' }) checkedRows!: number;
  @ApiProperty({ description: 'seq of the last row (0 for an empty chain)' }) headSeq!: number;
  @ApiProperty({ description: 'hash of the last row (64 zeros for an empty chain)' }) headHash!: string;
  @ApiProperty({ type: ChainBreakDto, nullable: true }) firstBreak!: ChainBreakDto | null;
  @ApiProperty({ description: 'The last verified point it resumed after (its row is checked against the hash verified then); 0 when it verified from the first row' })
  fromSeq!: number;
  @ApiProperty({
    description: 'True when it verified from the first row: asked (`full=true`), the first verification, or the last whole one older than AUDITOR_FULL_VERIFY_AFTER_HOURS',
  })
  full!: boolean;
  @ApiProperty({ description: 'The last seq a valid signed checkpoint was found to match by this verification (0: none)' }) checkpointedSeq!: number;
  @ApiProperty({ type: Number, nullable: true, description: "The tenant's latest checkpoint on the AUDIT_CHECKPOINTS stream (null: none, or the stream did not answer)" })
  latestCheckpointSeq!: number | null;
  @ApiProperty({
    enum: ['consulted', 'unavailable'],
    description: 'Whether the stream was asked; without it, a tail removed together with its checkpoints in the database goes unseen',
  })
  externalCheckpoints!: 'consulted' | 'unavailable';
}
