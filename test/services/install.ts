// Brings the tools the real-server tests need onto the machine: Debian
// packages (Dovecot, isync) through apt, and Java programs (Cassandra,
// S3Proxy) through Maven Central. A fresh CI machine has neither, so the
// harness installs them itself. Must never run apt or mvn twice for the same
// thing at once, and never re-resolve a Maven classpath that is already cached.
import { access, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { delimiter, join } from 'node:path';
import { constants } from 'node:fs';
import { lastLines, runCommand } from './process.ts';

const mavenCacheRoot = fileURLToPath(new URL('../.cache/maven/', import.meta.url));

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

/** Installs whichever of `pkgs` are missing; needs root when any are. */
export function ensureDebianPackages(pkgs: readonly string[]): Promise<void> {
  const task = aptQueue.then(async () => {
    const missing: string[] = [];
    for (const pkg of pkgs) if (!(await isInstalled(pkg))) missing.push(pkg);
    if (missing.length === 0) return;
    if (process.getuid?.() !== 0) {
      throw new Error(
        `Debian packages missing: ${missing.join(', ')}. Not running as root, so the test ` +
          `harness cannot install them; run: sudo apt-get install -y ${missing.join(' ')}`,
      );
    }
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    if (!aptListsUpdated) {
      await runCommand('apt-get', ['update'], { env });
      aptListsUpdated = true;
    }
    await runCommand('apt-get', ['install', '-y', '--no-install-recommends', ...missing], { env });
  });
  aptQueue = task.catch(() => undefined); // one failure must not poison later callers
  return task;
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
