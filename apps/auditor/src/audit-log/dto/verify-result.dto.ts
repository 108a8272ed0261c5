import { ApiProperty } from '@nestjs/swagger';

export class ChainBreakDto {
  @ApiProperty({ description: 'First seq at which the chain differs from what was written (for a gap: the first missing seq)' }) seq!: number;
  @ApiProperty({ enum: ['seq_gap', 'prev_hash_mismatch', 'hash_mismatch'] }) reason!: string;
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
}
