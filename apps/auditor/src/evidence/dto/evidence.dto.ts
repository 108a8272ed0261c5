import { ApiProperty } from '@nestjs/swagger';
import type { PublicKeyRecord, SignedPoint } from '@autoheal/evidence';
import type { CheckpointResult } from '../checkpoint.service.js';

export class SignedPointDto {
  @ApiProperty() tenantId!: string;
  @ApiProperty({ description: 'The seq of the row it vouches for' }) seq!: number;
  @ApiProperty({ description: 'That row’s hash' }) headHash!: string;
  @ApiProperty({ description: 'When it was signed (RFC 3339 UTC)' }) signedAt!: string;
  @ApiProperty({ description: 'The auditor key that signed it (`ed25519:…`); its public key is in GET /v1/audit/keys' }) keyId!: string;
  @ApiProperty({ description: 'Ed25519 (base64) over the netstrings of `autoheal.checkpoint.v1`, tenantId, seq, headHash, signedAt, keyId (docs/audit-row-hash.md)' })
  signature!: string;

  static from(p: SignedPoint): SignedPointDto {
    return { tenantId: p.tenantId, seq: p.seq, headHash: p.headHash, signedAt: p.signedAt, keyId: p.keyId, signature: p.signature };
  }
}

export class CheckpointSinksDto {
  @ApiProperty({ enum: [true] }) database!: true;
  @ApiProperty({ description: 'Published to the AUDIT_CHECKPOINTS stream' }) stream!: boolean;
  @ApiProperty({ type: Boolean, nullable: true, description: 'Appended to the file sink (null: none configured)' }) file!: boolean | null;
}

export class CheckpointResultDto {
  @ApiProperty({ type: SignedPointDto }) checkpoint!: SignedPointDto;
  @ApiProperty({ description: 'False when the chain’s head had a checkpoint already (returned as it is)' }) created!: boolean;
  @ApiProperty({ type: CheckpointSinksDto, nullable: true, description: 'Where the new checkpoint was kept (null when none was made)' }) sinks!: CheckpointSinksDto | null;

  static from(r: CheckpointResult): CheckpointResultDto {
    return { checkpoint: SignedPointDto.from(r.checkpoint), created: r.created, sinks: r.sinks };
  }
}

export class PublicKeyDto {
  @ApiProperty() keyId!: string;
  @ApiProperty({ description: 'Base64 of the DER (SPKI) encoding, as in a trust file' }) publicKey!: string;
  @ApiProperty({ description: 'When the auditor first signed with it' }) firstUsedAt!: string;

  static from(k: PublicKeyRecord): PublicKeyDto {
    return { keyId: k.keyId, publicKey: k.publicKey, firstUsedAt: k.firstUsedAt };
  }
}

export class PublicKeysDto {
  @ApiProperty({ type: [PublicKeyDto] }) keys!: PublicKeyDto[];
}
