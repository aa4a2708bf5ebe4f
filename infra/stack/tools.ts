import { StackError } from './errors.ts';
import { probeCommand } from './process.ts';
import { MIN_JAVA_MAJOR } from './versions.ts';

/** Programs the install steps call, with what to tell a user who lacks one (Debian names). */
const TOOLS = {
  java: { probe: ['-version'], hint: 'install a JDK 17+, e.g. `apt-get install openjdk-17-jdk-headless`' },
  mvn: { probe: ['-v'], hint: 'install Maven, e.g. `apt-get install maven`' },
  npm: { probe: ['--version'], hint: 'npm ships with Node.js; put it on PATH' },
  gcc: { probe: ['--version'], hint: 'install a C compiler, e.g. `apt-get install gcc`' },
} as const;

export type ToolName = keyof typeof TOOLS;

/** Probes each tool at most once per process: a missing tool stays missing during one command. */
const probed = new Map<ToolName, Promise<string | undefined>>();

function probe(tool: ToolName): Promise<string | undefined> {
  let result = probed.get(tool);
  if (result === undefined) {
    result = probeCommand(tool, TOOLS[tool].probe);
    probed.set(tool, result);
  }
  return result;
}

export async function requireTool(tool: ToolName, neededFor: string): Promise<void> {
  const output = await probe(tool);
  if (output === undefined) {
    throw new StackError(`\`${tool}\` is needed for ${neededFor} but was not found on PATH: ${TOOLS[tool].hint}.`, {
      code: 'PREREQUISITE_MISSING',
    });
  }
  if (tool === 'java') checkJavaVersion(output);
}

/** `java -version` prints e.g. `openjdk version "17.0.15"` (or "1.8.0_392" for Java 8). */
function checkJavaVersion(output: string): void {
  const match = /version "(\d+)(?:\.(\d+))?/.exec(output);
  if (match === null) return; // Unknown vendor format: let the JVM itself complain if too old.
  const first = Number(match[1]);
  const major = first === 1 ? Number(match[2] ?? '0') : first;
  if (major < MIN_JAVA_MAJOR) {
    throw new StackError(`Java ${MIN_JAVA_MAJOR}+ is needed (Kafka 4), but \`java\` on PATH is Java ${major}: ${TOOLS.java.hint}.`, {
      code: 'PREREQUISITE_MISSING',
    });
  }
}

export type Unzipper = { command: string; args: (zip: string, dest: string) => string[]; cwd: (dest: string) => string };

/**
 * Picks a zip extractor: `unzip` when installed, else Python's zipfile module, else the JDK's
 * `jar` (a JRE-only machine has no `jar`, but nearly every Debian machine has python3).
 */
export async function findUnzipper(): Promise<Unzipper> {
  if ((await probeCommand('unzip', ['-v'])) !== undefined) {
    return { command: 'unzip', args: (zip, dest) => ['-q', '-o', zip, '-d', dest], cwd: (dest) => dest };
  }
  if ((await probeCommand('python3', ['--version'])) !== undefined) {
    return { command: 'python3', args: (zip, dest) => ['-m', 'zipfile', '-e', zip, dest], cwd: (dest) => dest };
  }
  if ((await probeCommand('jar', ['--version'])) !== undefined) {
    // `jar xf` extracts into the working directory.
    return { command: 'jar', args: (zip) => ['xf', zip], cwd: (dest) => dest };
  }
  throw new StackError('No zip extractor found: install `unzip` (apt-get install unzip) or python3.', {
    code: 'PREREQUISITE_MISSING',
  });
}
