import type { JsMsg } from '@nats-io/jetstream';
import { BaseRpcContext } from '@nestjs/microservices';

/** What a handler may know about the message besides the event: where it came from and how often it was tried. */
export class JetStreamContext extends BaseRpcContext<[JsMsg]> {
  constructor(
    private readonly msg: JsMsg,
    readonly durable: string,
  ) {
    super([msg]);
  }

  get subject(): string {
    return this.msg.subject;
  }

  get deliveryCount(): number {
    return this.msg.info.deliveryCount;
  }

  get streamSequence(): number {
    return this.msg.info.streamSequence;
  }

  header(name: string): string | undefined {
    return this.msg.headers?.get(name) || undefined;
  }

  /** Tells the server the handler is still working, so the ack deadline moves out. */
  inProgress(): void {
    this.msg.working();
  }
}
