// The Kubernetes manifests in deploy/kubernetes, checked without a cluster: every file parses as
// YAML, the pieces name each other correctly, and secrets come from Secrets. (That the
// ScaledObject's query selects series the coordinator really exports is checked against a live
// /metrics in test/e2e/fleet.test.ts.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';

const DIR = fileURLToPath(new URL('../../deploy/kubernetes/', import.meta.url));

interface Doc {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string; namespace?: string };
  [key: string]: unknown;
}

type Container = { name: string; args?: string[]; env?: { name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string } } }[] };

function load(file: string): Doc[] {
  const docs = parseAllDocuments(readFileSync(join(DIR, file), 'utf8'));
  for (const d of docs) assert.deepEqual(d.errors, [], `${file} parses as YAML`);
  return docs.map((d) => d.toJS() as Doc).filter((d) => d !== null);
}

const files = readdirSync(DIR).filter((f) => f.endsWith('.yaml')).sort();
const all = files.flatMap((f) => load(f).map((doc) => ({ file: f, doc })));
const find = (kind: string, name: string) => all.find((x) => x.doc.kind === kind && x.doc.metadata?.name === name)?.doc;
const containers = (d: Doc) => (d as { spec: { template: { spec: { containers: Container[] } } } }).spec.template.spec.containers;

test('every manifest parses and names its kind, and lives in the drover namespace', () => {
  assert.ok(files.length >= 5, `manifests found: ${files.join(', ')}`);
  for (const { file, doc } of all) {
    assert.ok(doc.apiVersion && doc.kind, `${file}: apiVersion and kind`);
    if (doc.kind === 'Kustomization') continue;
    assert.ok(doc.metadata?.name, `${file}: a ${doc.kind} has a name`);
    if (doc.kind !== 'Namespace') assert.equal(doc.metadata?.namespace, 'drover', `${file}: ${doc.kind} ${doc.metadata?.name}`);
  }
});

test('the kustomization lists every manifest but the secrets example', () => {
  const kustomization = all.find((x) => x.doc.kind === 'Kustomization')?.doc as { resources: string[] } | undefined;
  assert.ok(kustomization);
  const resources = kustomization.resources;
  assert.deepEqual([...resources].sort(), files.filter((f) => f !== 'kustomization.yaml' && f !== 'secrets.example.yaml'));
});

test('the ScaledObject scales the agent Deployment on drover_tasks, one agent per --slots tasks', () => {
  const scaled = find('ScaledObject', 'drover-agent') as { spec: { scaleTargetRef: { name: string }; minReplicaCount: number; maxReplicaCount: number; cooldownPeriod: number; triggers: { type: string; metadata: Record<string, string> }[] } } | undefined;
  assert.ok(scaled);
  const agent = find('Deployment', scaled.spec.scaleTargetRef.name);
  assert.ok(agent, 'scaleTargetRef names a Deployment of these manifests');
  assert.ok(scaled.spec.minReplicaCount <= scaled.spec.maxReplicaCount);
  assert.ok(scaled.spec.cooldownPeriod > 0);
  const trigger = scaled.spec.triggers.find((t) => t.type === 'prometheus');
  assert.ok(trigger);
  assert.match(trigger.metadata.query!, /drover_tasks\{[^}]*status/);
  assert.match(trigger.metadata.query!, /queued/);
  assert.match(trigger.metadata.query!, /running/);
  const args = containers(agent)[0]!.args!;
  assert.equal(args[0], 'agent');
  assert.equal(trigger.metadata.threshold, args[args.indexOf('--slots') + 1], 'threshold = tasks one agent runs at once');
  // Drain on SIGTERM needs time: the pod's grace period is the longest a task may take to finish.
  assert.ok((agent as { spec: { template: { spec: { terminationGracePeriodSeconds: number } } } }).spec.template.spec.terminationGracePeriodSeconds >= 600);
});

test('credentials come from Secrets, never from the manifests or command lines', () => {
  const env = (d: Doc, name: string) => containers(d)[0]!.env!.find((e) => e.name === name);
  const agent = find('Deployment', 'drover-agent')!;
  const coordinator = find('Deployment', 'drover-coordinator')!;
  assert.deepEqual(env(agent, 'DROVER_AGENT_TOKEN')?.valueFrom?.secretKeyRef, { name: 'drover-join-token', key: 'token' });
  assert.deepEqual(env(coordinator, 'DROVER_DB')?.valueFrom?.secretKeyRef, { name: 'drover-postgres', key: 'url' });
  for (const d of [agent, coordinator]) {
    assert.ok(!containers(d)[0]!.args!.some((a) => /token|postgres:\/\//i.test(a)), 'no secret on a command line');
  }
  // The Service the agents use is the coordinator's.
  const service = find('Service', 'drover-coordinator');
  assert.ok(service);
  assert.ok(containers(agent)[0]!.args!.some((a) => a.startsWith('http://drover-coordinator.drover.svc:')));
});
