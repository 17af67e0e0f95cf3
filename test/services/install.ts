// Brings the tools the real-server tests need onto the machine: Debian
// packages (Dovecot, isync) through apt, Debian packages that cannot be
// installed beside those (Cyrus) unpacked into a cache folder, and Java
// programs (Cassandra, S3Proxy) through Maven Central. A fresh CI machine has
// none of them, so the harness installs them itself. Must never run apt or mvn
// twice for the same thing at once, and never re-resolve a Maven classpath or
// re-unpack a package that is already cached.
import { access, mkdir, mkdtemp, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { delimiter, join } from 'node:path';
import { constants } from 'node:fs';
import { lastLines, runCommand } from './process.ts';

const mavenCacheRoot = fileURLToPath(new URL('../.cache/maven/', import.meta.url));
const unpackedCacheRoot = fileURLToPath(new URL('../.cache/debian-unpacked/', import.meta.url));

// apt holds a global lock, so concurrent callers queue behind one another
// instead of failing on "Could not get lock /var/lib/dpkg/lock".
let aptQueue: Promise<unknown> = Promise.resolve();
let aptListsUpdated = false;

async function isInstalled(pkg: string): Promise<boolean> {
  try {
    const { stdout } = await runCommand('dpkg-query', ['-W', '-f=${Status}', pkg]);
    return stdout.trim() === 'install ok installed';
  } catch {
    return false; // dpkg-query exits 1 for a package it has never heard of
  }
}

/** Runs `work` after every apt task queued before it. */
function inAptQueue<T>(work: () => Promise<T>): Promise<T> {
  const task = aptQueue.then(work);
  aptQueue = task.catch(() => undefined); // one failure must not poison later callers
  return task;
}

const aptEnv = (): NodeJS.ProcessEnv => ({ ...process.env, DEBIAN_FRONTEND: 'noninteractive' });

/** apt-get update once per process; call only inside the apt queue. */
async function updateAptListsOnce(): Promise<void> {
  if (aptListsUpdated) return;
  await runCommand('apt-get', ['update'], { env: aptEnv() });
  aptListsUpdated = true;
}

/** Installs whichever of `pkgs` are missing; needs root when any are. */
export function ensureDebianPackages(pkgs: readonly string[]): Promise<void> {
  return inAptQueue(async () => {
    const missing: string[] = [];
    for (const pkg of pkgs) if (!(await isInstalled(pkg))) missing.push(pkg);
    if (missing.length === 0) return;
    if (process.getuid?.() !== 0) {
      throw new Error(
        `Debian packages missing: ${missing.join(', ')}. Not running as root, so the test ` +
          `harness cannot install them; run: sudo apt-get install -y ${missing.join(' ')}`,
      );
    }
    await updateAptListsOnce();
    await runCommand('apt-get', ['install', '-y', '--no-install-recommends', ...missing], { env: aptEnv() });
  });
}

/** The version apt would download for `pkg` (the candidate), from the local package lists. */
async function candidateVersion(pkg: string): Promise<string | undefined> {
  const { stdout } = await runCommand('apt-cache', ['policy', pkg]);
  const version = /^\s*Candidate:\s*(\S+)/m.exec(stdout)?.[1];
  return version === undefined || version === '(none)' ? undefined : version;
}

/** Library packages a .deb declares in Depends (first choice of each alternative). */
async function declaredLibraries(debFile: string): Promise<string[]> {
  const { stdout } = await runCommand('dpkg-deb', ['-f', debFile, 'Depends']);
  return stdout
    .split(',')
    .map((clause) => clause.split('|')[0]?.trim().split(/[\s(:]/)[0] ?? '')
    .filter((name) => name.startsWith('lib'));
}

export interface UnpackedPackages {
  /** The folder the packages' file trees were unpacked into (holds usr/, etc/). */
  root: string;
}

const unpackInFlight = new Map<string, Promise<UnpackedPackages>>();

/**
 * Downloads `pkgs` with `apt-get download` and unpacks them with `dpkg-deb -x` into
 * test/.cache/debian-unpacked/<name>-<version>/, without installing them: for servers whose
 * package conflicts with one the tests also need (cyrus-imapd and dovecot-imapd both provide
 * imap-server). The shared libraries they depend on are installed through apt as usual, and so
 * are never unpacked. test/.cache is shared by every checkout on the machine, so each process
 * unpacks into its own temporary folder and renames it into place; the loser of a race uses the
 * winner's copy.
 */
export function ensureUnpackedDebianPackages(name: string, pkgs: readonly string[]): Promise<UnpackedPackages> {
  const running = unpackInFlight.get(name);
  if (running) return running;
  const task = unpack(name, pkgs)
    .catch(async (error: unknown) => {
      // Package lists older than the mirror name versions it no longer has: refresh them once.
      if (aptListsUpdated) throw error;
      await inAptQueue(updateAptListsOnce);
      return unpack(name, pkgs);
    })
    .finally(() => unpackInFlight.delete(name));
  unpackInFlight.set(name, task);
  return task;
}

async function unpack(name: string, pkgs: readonly string[]): Promise<UnpackedPackages> {
  if (!/^[A-Za-z0-9._-]+$/.test(name)) throw new Error(`bad unpack cache name "${name}"`);
  let version = await candidateVersion(pkgs[0] ?? '');
  if (version === undefined) {
    // A fresh machine may have no package lists yet.
    await inAptQueue(updateAptListsOnce);
    version = await candidateVersion(pkgs[0] ?? '');
    if (version === undefined) throw new Error(`apt knows no candidate version of ${pkgs[0]}`);
  }
  const root = join(unpackedCacheRoot, `${name}-${version.replace(/[^A-Za-z0-9.+~-]/g, '_')}`);
  const librariesFile = join(root, 'inlay-libraries.txt');
  try {
    // Written last before the rename, so its presence means the copy is whole.
    const libraries = (await readFile(librariesFile, 'utf8')).split('\n').filter((line) => line !== '');
    await ensureDebianPackages(libraries);
    return { root };
  } catch {
    // not cached yet
  }

  await mkdir(unpackedCacheRoot, { recursive: true });
  const scratch = await mkdtemp(join(unpackedCacheRoot, `.${name}-${process.pid}-`));
  try {
    await inAptQueue(() => runCommand('apt-get', ['download', ...pkgs], { cwd: scratch }));
    const debs = (await readdir(scratch)).filter((file) => file.endsWith('.deb'));
    if (debs.length !== pkgs.length) throw new Error(`apt-get download ${pkgs.join(' ')} left ${debs.join(', ') || 'no .deb files'}`);
    const tree = join(scratch, 'tree');
    const libraries = new Set<string>();
    for (const deb of debs) {
      await runCommand('dpkg-deb', ['-x', join(scratch, deb), tree]);
      for (const library of await declaredLibraries(join(scratch, deb))) libraries.add(library);
    }
    await ensureDebianPackages([...libraries]);
    await writeFile(join(tree, 'inlay-libraries.txt'), [...libraries].join('\n') + '\n');
    try {
      await rename(tree, root);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw error;
      // Another process unpacked the same version meanwhile; its copy is as good as ours.
    }
    return { root };
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

/** True when an executable of that name is on PATH. */
export async function commandExists(command: string): Promise<boolean> {
  for (const dir of (process.env['PATH'] ?? '').split(delimiter)) {
    if (dir === '') continue;
    try {
      await access(join(dir, command), constants.X_OK);
      return true;
    } catch {
      // not in this directory
    }
  }
  return false;
}

export interface MavenOptions {
  /**
   * false: take only the listed jars, not their dependencies. For artifacts
   * that are already self-contained (a `jar-with-dependencies` classifier).
   */
  transitive?: boolean;
}

interface Coordinate {
  groupId: string;
  artifactId: string;
  version: string;
  classifier: string | undefined;
}

/** Parses `groupId:artifactId:version[:classifier]`. */
function parseCoordinate(text: string): Coordinate {
  const [groupId, artifactId, version, classifier, ...rest] = text.split(':');
  if (!groupId || !artifactId || !version || rest.length > 0) {
    throw new Error(`Maven artifact "${text}" is not groupId:artifactId:version[:classifier]`);
  }
  return { groupId, artifactId, version, classifier: classifier || undefined };
}

function renderPom(name: string, coordinates: Coordinate[], transitive: boolean): string {
  const exclusions = transitive
    ? ''
    : '\n      <exclusions><exclusion><groupId>*</groupId><artifactId>*</artifactId></exclusion></exclusions>';
  const dependencies = coordinates
    .map(
      (c) => `    <dependency>
      <groupId>${c.groupId}</groupId>
      <artifactId>${c.artifactId}</artifactId>
      <version>${c.version}</version>${c.classifier ? `\n      <classifier>${c.classifier}</classifier>` : ''}${exclusions}
    </dependency>`,
    )
    .join('\n');
  // Generated file; a change in the wanted artifacts changes this text, which
  // is what invalidates the cached classpath below.
  return `<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>inlay.test.cache</groupId>
  <artifactId>${name}</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
${dependencies}
  </dependencies>
</project>
`;
}

async function cachedClasspath(dir: string, pom: string): Promise<string | undefined> {
  try {
    if ((await readFile(join(dir, 'pom.xml'), 'utf8')) !== pom) return undefined;
    const classpath = (await readFile(join(dir, 'classpath.txt'), 'utf8')).trim();
    if (classpath === '') return undefined;
    // The jars live in ~/.m2; if someone cleaned it, resolve again.
    await Promise.all(classpath.split(':').map((jar) => access(jar)));
    return classpath;
  } catch {
    return undefined;
  }
}

const mavenInFlight = new Map<string, Promise<string>>();

/**
 * Resolves `artifacts` (and, by default, their dependencies) from Maven
 * Central and returns a `java -cp` classpath. Cached under
 * test/.cache/maven/<name>/, so only the first run on a machine pays for it.
 */
export function ensureMavenClasspath(
  name: string,
  artifacts: readonly string[],
  options: MavenOptions = {},
): Promise<string> {
  const running = mavenInFlight.get(name);
  if (running) return running;
  const task = resolveClasspath(name, artifacts, options).finally(() => mavenInFlight.delete(name));
  mavenInFlight.set(name, task);
  return task;
}

async function resolveClasspath(
  name: string,
  artifacts: readonly string[],
  options: MavenOptions,
): Promise<string> {
  if (!/^[A-Za-z0-9._-]+$/.test(name)) throw new Error(`bad Maven cache name "${name}"`);
  const dir = join(mavenCacheRoot, name);
  const pom = renderPom(name, artifacts.map(parseCoordinate), options.transitive ?? true);
  const cached = await cachedClasspath(dir, pom);
  if (cached !== undefined) return cached;

  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'pom.xml'), pom);
  // Each run writes its own output and renames it into place, so two test
  // runs resolving on a cold machine never read each other's half-written file.
  const outputFile = `classpath.${process.pid}.tmp`;
  try {
    await runCommand(
      'mvn',
      ['-q', '-B', '-Dstyle.color=never', 'dependency:build-classpath', `-Dmdep.outputFile=${outputFile}`, '-Dmdep.includeScope=runtime'],
      { cwd: dir },
    );
  } catch (error) {
    const output = error as { stdout?: string; stderr?: string; message: string };
    const tail = lastLines(`${output.stdout ?? ''}${output.stderr ?? ''}` || output.message, 25);
    throw new Error(`Maven could not resolve ${artifacts.join(', ')} (cache ${dir}):\n${tail}`);
  }
  await rename(join(dir, outputFile), join(dir, 'classpath.txt'));
  const classpath = await cachedClasspath(dir, pom);
  if (classpath === undefined) {
    throw new Error(`Maven resolved ${artifacts.join(', ')} but ${join(dir, 'classpath.txt')} is empty or lists missing jars`);
  }
  return classpath;
}
