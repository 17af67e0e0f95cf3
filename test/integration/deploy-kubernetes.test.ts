// deploy/kubernetes as an operator applies it: `kustomize build` of the base and the example
// overlay, every object validated by kubeconform against the Kubernetes schemas (strict: no
// unknown fields), and the properties the manifests promise checked on the built objects — probes
// on /readyz and /healthz, a grace period that covers preStop plus the proxy's shutdownDrainMs,
// non-root read-only containers, a proxy NetworkPolicy that reaches only the upstream, the
// middleware and DNS, and a configuration the real config loader accepts.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '@inlay/schemas';
import { runCommand } from '../services/process.ts';
import { ensureGoTool, ensureKubernetesSchemas, KUBECONFORM_MODULE, KUBERNETES_VERSION, KUSTOMIZE_MODULE } from '../services/deploy-tools.ts';

const deployDir = fileURLToPath(new URL('../../deploy/kubernetes/', import.meta.url));
/** Seconds the pod keeps beyond preStop + drain, for the process to exit after cutting connections. */
const EXIT_MARGIN_SECONDS = 5;

// Untyped on purpose: these are whatever kustomize emitted; each assertion says what it expects.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type K8sObject = any;

let kustomize: string;
let kubeconform: string;
let schemaLocation: string;

async function build(folder: string): Promise<{ text: string; objects: K8sObject[] }> {
  const { stdout } = await runCommand(kustomize, ['build', join(deployDir, folder)]);
  return { text: stdout, objects: parseAllDocuments(stdout).map((document) => document.toJSON()) };
}

/** kubeconform's verdict on a multi-document YAML text. */
async function validate(text: string): Promise<{ ok: boolean; output: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'inlay-kubeconform-'));
  try {
    await writeFile(join(dir, 'objects.yaml'), text);
    const args = ['-strict', '-summary', '-kubernetes-version', KUBERNETES_VERSION, '-schema-location', schemaLocation, join(dir, 'objects.yaml')];
    try {
      const { stdout, stderr } = await runCommand(kubeconform, args);
      return { ok: true, output: stdout + stderr };
    } catch (err) {
      const failed = err as { stdout?: string; stderr?: string; message: string };
      return { ok: false, output: `${failed.stdout ?? ''}${failed.stderr ?? ''}` || failed.message };
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function find(objects: K8sObject[], kind: string, name: string): K8sObject {
  // Generated ConfigMaps and Secrets carry a hash suffix; an exact name wins over a prefix.
  const ofKind = objects.filter((object) => object.kind === kind);
  const found = ofKind.find((object) => object.metadata.name === name) ?? ofKind.find((object) => /^[a-z0-9]{10}$/.test(object.metadata.name.slice(name.length + 1)) && object.metadata.name.startsWith(`${name}-`));
  if (found === undefined) throw new Error(`no ${kind} ${name} in the build`);
  return found;
}

beforeAll(async () => {
  [kustomize, kubeconform, schemaLocation] = await Promise.all([ensureGoTool(KUSTOMIZE_MODULE), ensureGoTool(KUBECONFORM_MODULE), ensureKubernetesSchemas()]);
}, 600_000);

describe.each(['base', 'overlays/example'])('deploy/kubernetes/%s', (folder) => {
  it('builds with kustomize and every object is valid against the Kubernetes schemas', async () => {
    const { text, objects } = await build(folder);
    expect(objects.map((object) => object.kind)).toEqual(expect.arrayContaining(['Deployment', 'Service', 'PodDisruptionBudget', 'NetworkPolicy', 'ConfigMap']));
    const verdict = await validate(text);
    expect(verdict.ok, verdict.output).toBe(true);
    expect(verdict.output).toMatch(/Invalid: 0, Errors: 0, Skipped: 0/);
  });
});

describe('the validation itself', () => {
  it('rejects a Deployment with an unknown field and one with a wrongly typed value', async () => {
    const { text } = await build('base');
    const unknownField = await validate(text.replace('terminationGracePeriodSeconds: 25', 'terminationGracePeriodSeconds: 25\n      terminationGraceSeconds: 25'));
    expect(unknownField.ok).toBe(false);
    expect(unknownField.output).toMatch(/terminationGraceSeconds/);
    const wrongType = await validate(text.replace('replicas: 2', 'replicas: two'));
    expect(wrongType.ok).toBe(false);
  });
});

describe('the example overlay, as built', () => {
  let objects: K8sObject[];
  beforeAll(async () => {
    objects = (await build('overlays/example')).objects;
  });

  it('has a configuration the proxy and the middleware accept', async () => {
    const configMap = find(objects, 'ConfigMap', 'inlay-config');
    const dir = await mkdtemp(join(tmpdir(), 'inlay-k8s-config-'));
    try {
      await writeFile(join(dir, 'inlay.json'), configMap.data['inlay.json']);
      const { config } = loadConfig({ file: join(dir, 'inlay.json'), env: {} });
      expect(config.proxy.engine.url).toBe('http://inlay-middleware:8080');
      expect(config.proxy.metricsListen).toBe('0.0.0.0:9143');
      expect(config.metricsListen).toBe('0.0.0.0:9180');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('probes the proxy on /readyz and /healthz, and gives it preStop plus shutdownDrainMs before the kill', () => {
    const deployment = find(objects, 'Deployment', 'inlay-proxy');
    const pod = deployment.spec.template.spec;
    const container = pod.containers[0];
    expect(container.readinessProbe.httpGet).toMatchObject({ path: '/readyz', port: 'ops' });
    expect(container.livenessProbe.httpGet).toMatchObject({ path: '/healthz', port: 'ops' });
    const config = JSON.parse(find(objects, 'ConfigMap', 'inlay-config').data['inlay.json']);
    const drainSeconds = (config.proxy?.limits?.shutdownDrainMs ?? 10_000) / 1000;
    const preStopSeconds = container.lifecycle.preStop.sleep.seconds;
    expect(preStopSeconds).toBeGreaterThan(0);
    expect(pod.terminationGracePeriodSeconds).toBeGreaterThanOrEqual(preStopSeconds + drainSeconds + EXIT_MARGIN_SECONDS);
    const ops = container.ports.find((port: K8sObject) => port.name === 'ops');
    expect(ops.containerPort).toBe(Number(config.proxy.metricsListen.split(':').at(-1)));
  });

  it('serves IMAP on 143 and IMAPS on 993 onto the listeners the configuration names', () => {
    const config = JSON.parse(find(objects, 'ConfigMap', 'inlay-config').data['inlay.json']);
    const service = find(objects, 'Service', 'inlay-proxy');
    const container = find(objects, 'Deployment', 'inlay-proxy').spec.template.spec.containers[0];
    const portOf = (name: string): number => container.ports.find((port: K8sObject) => port.name === name).containerPort;
    const byPort = new Map(service.spec.ports.map((port: K8sObject) => [port.port, port.targetPort]));
    expect(byPort.get(143)).toBe('imap');
    expect(byPort.get(993)).toBe('imaps');
    expect(portOf('imap')).toBe(Number(config.proxy.listen.split(':').at(-1)));
    expect(portOf('imaps')).toBe(Number(config.proxy.tlsListen.split(':').at(-1)));
  });

  it('keeps one proxy at a time out of service in voluntary disruptions', () => {
    const budget = find(objects, 'PodDisruptionBudget', 'inlay-proxy');
    const deployment = find(objects, 'Deployment', 'inlay-proxy');
    expect(budget.spec.maxUnavailable).toBe(1);
    expect(budget.spec.selector.matchLabels).toEqual(deployment.spec.selector.matchLabels);
    expect(deployment.spec.replicas).toBeGreaterThan(1);
  });

  it('runs both processes non-root, without capabilities, on a read-only root, with resources set, and tokens and TLS from Secrets', () => {
    const secrets = new Set(objects.filter((object) => object.kind === 'Secret').map((object) => object.metadata.name));
    for (const name of ['inlay-proxy', 'inlay-middleware']) {
      const pod = find(objects, 'Deployment', name).spec.template.spec;
      expect(pod.securityContext.runAsNonRoot).toBe(true);
      for (const container of pod.containers) {
        expect(container.securityContext).toMatchObject({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } });
        expect(container.resources.requests.memory).toBeDefined();
        expect(container.resources.limits.memory).toBeDefined();
        for (const variable of container.env ?? []) {
          if (variable.valueFrom?.secretKeyRef) expect(secrets.has(variable.valueFrom.secretKeyRef.name)).toBe(true);
        }
      }
      expect(pod.containers[0].readinessProbe.httpGet.path).toBe('/readyz');
    }
    const tlsVolume = find(objects, 'Deployment', 'inlay-proxy').spec.template.spec.volumes.find((volume: K8sObject) => volume.name === 'tls');
    expect(secrets.has(tlsVolume.secret.secretName)).toBe(true);
    expect(find(objects, 'Secret', 'inlay-tls').type).toBe('kubernetes.io/tls');
  });

  it('lets the proxy reach only the upstream, the middleware and DNS', () => {
    const policy = find(objects, 'NetworkPolicy', 'inlay-proxy');
    expect(policy.spec.policyTypes).toEqual(expect.arrayContaining(['Ingress', 'Egress']));
    const destinations = policy.spec.egress.map((rule: K8sObject) => {
      expect(rule.to, 'every egress rule names where it goes').toBeDefined();
      const to = rule.to[0];
      const ports = rule.ports.map((port: K8sObject) => port.port).sort();
      if (to.ipBlock) return { kind: 'upstream', ports };
      if (to.podSelector?.matchLabels?.['app.kubernetes.io/name'] === 'inlay-middleware') return { kind: 'middleware', ports };
      if (to.podSelector?.matchLabels?.['k8s-app'] === 'kube-dns') return { kind: 'dns', ports };
      return { kind: 'unexpected', rule };
    });
    expect(destinations).toEqual([
      { kind: 'upstream', ports: [143, 993] },
      { kind: 'middleware', ports: [8080] },
      { kind: 'dns', ports: [53, 53] },
    ]);
  });
});
