/**
 * Reads a V8 CPU profile (`node --cpu-prof`, a .cpuprofile file) and says where the time
 * went: the functions with the most self time, self time by package (a node_modules
 * package, a folder of Updraft's src/, Node's own modules, V8's garbage collector), and
 * each sample charged to the innermost Updraft function on its stack (what of Updraft's
 * own code the time was spent under, as far as the synchronous stack shows it: code
 * running in a driver's socket callback after an await has no Updraft caller on it).
 *
 * `windows` keeps only the samples taken inside them: [from, to] in microseconds of
 * CLOCK_MONOTONIC, which on Linux is the clock of both the profile's timestamps and
 * process.hrtime (in any process), so a bench can cut out of a child's profile the
 * time it measured.
 */
import { readFile } from 'node:fs/promises';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

export interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export async function readProfile(file: string): Promise<CpuProfile> {
  return JSON.parse(await readFile(file, 'utf8')) as CpuProfile;
}

/** Microseconds of CLOCK_MONOTONIC now: the clock of --cpu-prof's timestamps (Linux). */
export function monotonicMicros(): number {
  return Number(process.hrtime.bigint() / 1000n);
}

const SPECIAL = new Set(['(idle)', '(program)', '(garbage collector)', '(root)']);

function packageOf(frame: CallFrame): string {
  const { url, functionName } = frame;
  if (SPECIAL.has(functionName) && url === '') return functionName;
  if (url === '') return '(native)';
  if (url.startsWith('node:')) return url.split('/')[0]!;
  const modules = url.lastIndexOf('/node_modules/');
  if (modules >= 0) {
    const parts = url.slice(modules + '/node_modules/'.length).split('/');
    return parts[0]!.startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0]!;
  }
  const src = url.lastIndexOf('/src/');
  if (src >= 0)
    return `updraft src/${
      url
        .slice(src + 5)
        .split('/')
        .slice(0, -1)
        .join('/') || '.'
    }`;
  return url.replace(/^file:\/\//, '');
}

function nameOf(frame: CallFrame): string {
  const file = frame.url.replace(/^file:\/\//, '');
  const modules = file.lastIndexOf('/node_modules/');
  const src = file.lastIndexOf('/src/');
  const short = modules >= 0 ? file.slice(modules + 14) : src >= 0 ? file.slice(src + 1) : file;
  // Updraft's sources run as tsx compiles them: their line numbers are not the source's.
  const line = modules < 0 && src >= 0 ? '' : `:${frame.lineNumber + 1}`;
  return `${frame.functionName || '(anonymous)'} ${short ? `${short}${line}` : ''}`.trim();
}

const isUpdraft = (frame: CallFrame) => frame.url.includes('/src/') && !frame.url.includes('/node_modules/');

export interface ProfileSummary {
  /** Sampled time inside the windows, idle included, in ms. */
  totalMs: number;
  idleMs: number;
  lines: string[];
}

/** Where the time of `profile` went (inside `windows` if given): `top` rows per table. */
export function summarizeProfile(
  profile: CpuProfile,
  windows?: readonly (readonly [number, number])[],
  top = 15,
): ProfileSummary {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

  const self = new Map<number, number>();
  let t = profile.startTime;
  for (let i = 0; i < profile.samples.length; i++) {
    t += profile.timeDeltas[i]!;
    // A sample stands for the time until the next one.
    const span = profile.timeDeltas[i + 1] ?? 0;
    if (windows && !windows.some(([from, to]) => t >= from && t <= to)) continue;
    self.set(profile.samples[i]!, (self.get(profile.samples[i]!) ?? 0) + span);
  }

  let totalUs = 0;
  let idleUs = 0;
  const functions = new Map<string, number>();
  const packages = new Map<string, number>();
  const under = new Map<string, number>();
  for (const [id, us] of self) {
    const node = byId.get(id)!;
    totalUs += us;
    if (node.callFrame.functionName === '(idle)') {
      idleUs += us;
      continue;
    }
    const add = (map: Map<string, number>, key: string) => map.set(key, (map.get(key) ?? 0) + us);
    add(functions, nameOf(node.callFrame));
    add(packages, packageOf(node.callFrame));
    let at: number | undefined = id;
    while (at !== undefined && !isUpdraft(byId.get(at)!.callFrame)) at = parent.get(at);
    add(
      under,
      at === undefined
        ? `(no Updraft frame on the stack: ${packageOf(node.callFrame)})`
        : nameOf(byId.get(at)!.callFrame),
    );
  }
  const busyUs = totalUs - idleUs;
  const table = (title: string, map: Map<string, number>) => [
    `  ${title}:`,
    ...[...map.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(
        ([key, us]) =>
          `    ${(us / 1000).toFixed(0).padStart(7)} ms ${((100 * us) / busyUs).toFixed(1).padStart(5)}%  ${key}`,
      ),
  ];
  return {
    totalMs: totalUs / 1000,
    idleMs: idleUs / 1000,
    lines: [
      `  sampled ${(totalUs / 1000).toFixed(0)} ms, of which idle ${(idleUs / 1000).toFixed(0)} ms and busy ${(busyUs / 1000).toFixed(0)} ms (percentages: of busy)`,
      ...table('self time by function', functions),
      ...table('self time by package', packages),
      ...table('charged to the innermost Updraft function on the stack', under),
    ],
  };
}
