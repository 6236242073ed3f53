/**
 * The churn soak's verdict (scenarios/churn.mjs), as pure logic: whether a
 * node's resources stayed bounded over many connect/subscribe/disconnect
 * cycles, and why not.
 */
import { round, slope } from '../scenarios/session.mjs';

/** Open file descriptors the node may hold beyond its count before the soak. */
export const FD_SLACK = 4;
/** RSS growth per cycle over the second half of the soak, in bytes, above which it is not bounded. */
export const RSS_SLOPE_LIMIT = 100;
/** Fewer cycles do not get past the heap's early growth (it levels off within the first ~20,000): RSS is then not judged. */
export const RSS_MIN_CYCLES = 50_000;

/**
 * @typedef {{ cycles: number, rssBytes: number, openFds: number | null }} Sample
 * @typedef {{ gauges: Record<string, number>, opened: number, closed: number }} Metrics
 */

/**
 * Whether growth was bounded, and why not.
 * @param {{ before: Sample, after: Sample, samples: Sample[], metrics: Metrics | null, redisChannels: number | null, cycles: number, completed: number, failed: number }} r
 */
export function verdict(r) {
  const reasons = [];
  if (r.failed > 0) reasons.push(`${r.failed} cycle(s) failed`);
  const fdGrowth = r.after.openFds === null || r.before.openFds === null ? null : r.after.openFds - r.before.openFds;
  if (fdGrowth === null) reasons.push('open file descriptors could not be read');
  else if (fdGrowth > FD_SLACK) reasons.push(`${fdGrowth} more open file descriptors than before (slack ${FD_SLACK})`);
  if (r.metrics === null) reasons.push('/metrics could not be read');
  else {
    for (const [k, v] of Object.entries(r.metrics.gauges)) if (v !== 0) reasons.push(`${k} is ${v} after the soak, not 0`);
    // Each completed cycle must have been an authenticated connection, or the soak measured less than it says.
    if (r.metrics.opened !== r.completed) reasons.push(`Herald counted ${r.metrics.opened} connections opened for ${r.completed} cycles`);
    if (r.metrics.closed !== r.metrics.opened) reasons.push(`Herald counted ${r.metrics.closed} connections closed of ${r.metrics.opened} opened`);
  }
  if (r.redisChannels !== null && r.redisChannels !== 0) reasons.push(`the node is still subscribed to ${r.redisChannels} topic channel(s) in Redis`);
  const half = r.samples.filter((s) => s.cycles >= r.cycles / 2);
  const points = [...half, r.after].map((s) => ({ x: s.cycles, y: s.rssBytes }));
  const perCycle = slope(points);
  const rssJudged = r.cycles >= RSS_MIN_CYCLES;
  if (perCycle === null) reasons.push('too few samples for the RSS slope');
  else if (rssJudged && perCycle > RSS_SLOPE_LIMIT) reasons.push(`RSS grows ${round(perCycle, 1)} B per cycle over the second half (limit ${RSS_SLOPE_LIMIT})`);
  return { bounded: reasons.length === 0, rssJudged, reasons, fdGrowth, rssGrowthBytes: r.after.rssBytes - r.before.rssBytes, rssSlopeSecondHalfBytesPerCycle: perCycle === null ? null : round(perCycle, 1) };
}

