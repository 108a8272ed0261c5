import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';

/** Every message currently stored in a stream, parsed as JSON, oldest first (assertions on what was published). */
export async function readStream<T>(nc: NatsConnection, stream: string): Promise<T[]> {
  const jsm = await jetstreamManager(nc);
  const { state } = await jsm.streams.info(stream);
  const out: T[] = [];
  if (state.messages === 0) return out;
  for (let seq = state.first_seq; seq <= state.last_seq; seq++) {
    try {
      const m = await jsm.streams.getMessage(stream, { seq });
      if (m) out.push(m.json<T>());
    } catch (error) {
      // A sequence can be missing (deleted or expired); anything else is a real failure.
      if (!/no message found|not found/i.test(String(error))) throw error;
    }
  }
  return out;
}
