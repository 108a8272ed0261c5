import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { clientsFor, loadKubeConfig } from './kubernetes-cluster.js';

const kubeconfig = (context: string, server: string) => `apiVersion: v1
kind: Config
clusters:
  - name: ${context}
    cluster: { server: ${server} }
users:
  - name: ${context}-user
    user: { token: t }
contexts:
  - name: ${context}
    context: { cluster: ${context}, user: ${context}-user }
current-context: ${context}
`;

describe('loadKubeConfig', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kubeconfig-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const write = (name: string, text: string) => {
    const file = join(dir, name);
    writeFileSync(file, text);
    return file;
  };

  it('says why when there is no kubeconfig at all, instead of pointing at localhost', () => {
    expect(loadKubeConfig({ HOME: join(dir, 'nobody') })).toEqual({ ok: false, reason: expect.stringContaining('no kubeconfig') as string });
  });

  it('says why when KUBECONFIG names a file that is not there', () => {
    expect(loadKubeConfig({ KUBECONFIG: join(dir, 'missing'), HOME: dir })).toMatchObject({ ok: false, reason: expect.stringContaining('cannot be loaded') as string });
  });

  it('merges the files KUBECONFIG lists; a plan’s cluster selects a context, and an unknown one is no client', () => {
    const first = write('a.yaml', kubeconfig('east', 'https://east.example:6443'));
    const second = write('b.yaml', kubeconfig('west', 'https://west.example:6443'));
    const source = loadKubeConfig({ KUBECONFIG: [first, second].join(delimiter), HOME: dir });
    if (!source.ok) throw new Error(source.reason);
    expect(source.config.getCurrentContext()).toBe('east');
    expect(clientsFor(source.config, undefined)?.context).toBe('east');
    expect(clientsFor(source.config, 'west')?.context).toBe('west');
    expect(clientsFor(source.config, 'north')).toBeNull();
  });
});
