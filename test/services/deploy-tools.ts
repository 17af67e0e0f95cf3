// The tools that check deploy/ (kustomize, kubeconform) and the Kubernetes JSON schemas
// kubeconform validates against. Both tools are Go programs, built from the Go module proxy with
// `go install` at pinned versions into test/.cache/go-bin. kubeconform would download its schemas
// from GitHub at run time, which this machine and CI cannot reach; the `kubernetes-validate`
// package on PyPI ships the same schemas (one folder per Kubernetes minor, "-local-strict" with
// relative $refs), so its wheel is fetched with pip and unpacked into test/.cache. Everything is
// built or unpacked into a temporary name and renamed into place, so a half-done copy is never
// used and two test files racing for it both end up with a whole one.
import { access, mkdir, mkdtemp, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { constants } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { runCommand } from './process.ts';

const cacheRoot = fileURLToPath(new URL('../.cache/', import.meta.url));

/** Pinned: the newest releases that build with the machine's Go 1.26 (see the README). */
export const KUSTOMIZE_MODULE = 'sigs.k8s.io/kustomize/kustomize/v5@v5.8.1';
export const KUBECONFORM_MODULE = 'github.com/yannh/kubeconform/cmd/kubeconform@v0.8.0';
/** PyPI package whose wheel carries the Kubernetes JSON schemas; and the Kubernetes version validated against. */
export const SCHEMA_PACKAGE = 'kubernetes-validate==1.37.0';
export const KUBERNETES_VERSION = '1.37.0';

async function exists(path: string): Promise<boolean> {
  try {
    await access(path, constants.F_OK);
    return true;
  } catch {
    return false;
  }
}

/** Builds `module@version` into test/.cache/go-bin/<version-tagged name>; resolves the binary. */
export async function ensureGoTool(module: string): Promise<string> {
  const [path, version] = module.split('@') as [string, string];
  // go install names the binary after the last path element that is not a major version (/v5).
  const name = path.split('/').filter((part) => !/^v\d+$/.test(part)).at(-1)!;
  const binDir = join(cacheRoot, 'go-bin');
  const binary = join(binDir, `${name}-${version}`);
  if (await exists(binary)) return binary;
  await mkdir(binDir, { recursive: true });
  const build = await mkdtemp(join(binDir, `.${name}-`));
  try {
    await runCommand('go', ['install', module], { env: { ...process.env, GOBIN: build, GOFLAGS: '-buildvcs=false' } });
    await rename(join(build, name), binary);
  } finally {
    await rm(build, { recursive: true, force: true });
  }
  return binary;
}

/**
 * The package's schemas carry an https `$id` (https://kubernetes.io/api/service/v1) and refer to
 * shared definitions by an absolute path under it (`/api/_definitions.json#/$defs/…`), which its
 * own validator maps to the folder; kubeconform would fetch that URL. Without the per-kind `$id`
 * and with the reference made relative, both resolve to the file beside it.
 */
async function resolveLocally(folder: string): Promise<void> {
  for (const file of await readdir(folder)) {
    if (!file.endsWith('.json') || file === '_definitions.json') continue;
    const schema = JSON.parse(await readFile(join(folder, file), 'utf8')) as Record<string, unknown>;
    delete schema['$id'];
    await writeFile(join(folder, file), JSON.stringify(schema).replaceAll('"/api/_definitions.json#', '"_definitions.json#'));
  }
}

/** Resolves the kubeconform -schema-location template for KUBERNETES_VERSION's strict schemas. */
export async function ensureKubernetesSchemas(): Promise<string> {
  // Only the one version's strict schemas are kept (the wheel holds every minor since 1.x).
  const folder = join(cacheRoot, 'kubernetes-json-schema', `${SCHEMA_PACKAGE.replace('==', '-')}-v${KUBERNETES_VERSION}-local-strict`);
  if (!(await exists(folder))) {
    await mkdir(join(cacheRoot, 'kubernetes-json-schema'), { recursive: true });
    const work = await mkdtemp(join(cacheRoot, 'kubernetes-json-schema', '.download-'));
    try {
      await runCommand('python3', ['-m', 'pip', 'download', '--no-deps', '--only-binary=:all:', '-d', work, SCHEMA_PACKAGE]);
      const wheel = (await readdir(work)).find((file) => file.endsWith('.whl'));
      if (wheel === undefined) throw new Error(`pip download ${SCHEMA_PACKAGE} left no wheel in ${work}`);
      const unpacked = join(work, 'unpacked');
      // A wheel is a zip; Python's own zipfile module unpacks it, so no unzip tool is needed.
      await runCommand('python3', ['-m', 'zipfile', '-e', join(work, wheel), unpacked]);
      const version = join(unpacked, 'kubernetes_validate', 'kubernetes-json-schema', `v${KUBERNETES_VERSION}-local-strict`);
      await resolveLocally(version);
      await rename(version, folder).catch(async (err: NodeJS.ErrnoException) => {
        if (!(await exists(folder))) throw err; // another run put a whole copy there first
      });
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  }
  // kubeconform fills in the kind and group-version suffix: deployment-apps-v1.json.
  return join(folder, '{{ .ResourceKind }}{{ .KindSuffix }}.json');
}
