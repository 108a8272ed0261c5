import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';
import { ApiException, AppsV1Api, CoreV1Api, KubeConfig, Observable, type ConfigurationOptions, type ObservableMiddleware, type RequestContext, type ResponseContext } from '@kubernetes/client-node';
import { DriverError, DriverErrorCode } from '../driver.errors.js';

/** Where the service account's token is mounted in a pod (in-cluster configuration). */
const SERVICE_ACCOUNT_TOKEN = '/var/run/secrets/kubernetes.io/serviceaccount/token';

/** The executor's kubeconfig, or why there is none (the executor still boots; the driver refuses at use). */
export type KubeConfigSource = { ok: true; config: KubeConfig } | { ok: false; reason: string };

/**
 * `KUBECONFIG` (one or more files, merged as kubectl does), else `~/.kube/config`, else the
 * in-cluster service account: what `KubeConfig.loadFromDefault` reads, except that finding none
 * is reported rather than silently pointed at http://localhost:8080 as the library does.
 */
export function loadKubeConfig(env: NodeJS.ProcessEnv = process.env): KubeConfigSource {
  const files = (env.KUBECONFIG ?? '').split(delimiter).filter(Boolean);
  const home = join(env.HOME ?? homedir(), '.kube', 'config');
  const inCluster = Boolean(env.KUBERNETES_SERVICE_HOST) && existsSync(SERVICE_ACCOUNT_TOKEN);
  try {
    const config = new KubeConfig();
    if (files.length > 0) {
      config.loadFromFile(files[0]);
      for (const file of files.slice(1)) {
        const more = new KubeConfig();
        more.loadFromFile(file);
        config.mergeConfig(more, Boolean(config.getCurrentContext())); // as kubectl: the first file that sets current-context wins
      }
    } else if (existsSync(home)) {
      config.loadFromFile(home);
    } else if (inCluster) {
      config.loadFromCluster();
    } else {
      return { ok: false, reason: 'no kubeconfig: set KUBECONFIG, provide ~/.kube/config, or run the executor in a cluster with a service account' };
    }
    return { ok: true, config };
  } catch (error) {
    return { ok: false, reason: `the kubeconfig cannot be loaded: ${(error as Error).message}` };
  }
}

/** The API clients for one kubeconfig context. */
export interface ClusterClients {
  context: string;
  core: CoreV1Api;
  apps: AppsV1Api;
}

/** The clients for `context` (absent: the kubeconfig's current context), or null when the kubeconfig has no such context. */
export function clientsFor(config: KubeConfig, context: string | undefined): ClusterClients | null {
  const name = context ?? config.getCurrentContext();
  if (!config.getContextObject(name)) return null;
  const scoped = new KubeConfig();
  scoped.loadFromOptions({ clusters: config.clusters, users: config.users, contexts: config.contexts, currentContext: name });
  return { context: name, core: scoped.makeApiClient(CoreV1Api), apps: scoped.makeApiClient(AppsV1Api) };
}

/** The API server answered 409 Conflict: the object changed since it was read (or a precondition failed). */
export class ConflictError extends Error {}

/** The API server refused the request for good (403, 422, …): no point in retrying. */
export class RejectedError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Every call the driver makes within one remediation: bounded by one deadline (an AbortSignal
 * handed to the client's fetch through a middleware) and with the client's failures sorted into
 * what the driver can act on.
 */
export class DeadlineBoundCalls {
  private readonly options: ConfigurationOptions;

  constructor(
    readonly signal: AbortSignal,
    private readonly timeoutMs: number,
    private readonly context: string,
  ) {
    const bound: ObservableMiddleware = {
      pre: (request: RequestContext) => {
        request.setSignal(signal);
        return new Observable(Promise.resolve(request));
      },
      post: (response: ResponseContext) => new Observable(Promise.resolve(response)),
    };
    this.options = { middleware: [bound], middlewareMergeStrategy: 'append' };
  }

  /** The answer, or null when the object does not exist (404). */
  async read<T>(what: string, call: (options: ConfigurationOptions) => Promise<T>): Promise<T | null> {
    try {
      return await this.call(what, call);
    } catch (error) {
      if (error instanceof RejectedError && error.status === 404) return null;
      throw error;
    }
  }

  /** The answer; a 409 throws ConflictError, any other refusal RejectedError, no answer DriverError. */
  async call<T>(what: string, call: (options: ConfigurationOptions) => Promise<T>): Promise<T> {
    if (this.signal.aborted) throw this.timeout(what);
    try {
      return await call(this.options);
    } catch (error) {
      throw this.classify(what, error);
    }
  }

  /** Waits `ms` unless the deadline passes first (then throws the timeout DriverError). */
  async pause(ms: number, waitingFor: string): Promise<void> {
    if (this.signal.aborted) throw this.timeout(waitingFor);
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.signal.addEventListener('abort', done, { once: true });
    });
    if (this.signal.aborted) throw this.timeout(waitingFor);
  }

  timeout(what: string): DriverError {
    return new DriverError(DriverErrorCode.Timeout, `kubernetes context ${this.context}: no outcome within ${this.timeoutMs} ms (${what})`);
  }

  private classify(what: string, error: unknown): Error {
    if (error instanceof ApiException) {
      const status = error.code;
      const message = statusMessage(error.body) ?? `HTTP ${status}`;
      if (status === 409) return new ConflictError(`${what}: ${message}`);
      // Overloaded or failing API server: the outcome is unknown, asking again is the remedy.
      if (status === 429 || status >= 500) return new DriverError(DriverErrorCode.Unreachable, `kubernetes context ${this.context}: ${what} failed with ${status}: ${message}`);
      return new RejectedError(status, `${what} was refused (${status}): ${message}`);
    }
    if (this.signal.aborted || (error as Error)?.name === 'AbortError') return this.timeout(what);
    return new DriverError(DriverErrorCode.Unreachable, `kubernetes context ${this.context}: ${what} failed: ${(error as Error)?.message ?? String(error)}`);
  }
}

/** The message of a Kubernetes Status body, whether the client handed it over parsed or as text. */
function statusMessage(body: unknown): string | undefined {
  let value: unknown = body;
  if (typeof body === 'string') {
    try {
      value = JSON.parse(body);
    } catch {
      return body.slice(0, 500);
    }
  }
  if (value && typeof value === 'object' && 'message' in value && typeof value.message === 'string') return value.message;
  return undefined;
}
