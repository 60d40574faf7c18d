/**
 * A budget target in multiply-adds from the way config and tools give it: a value <= 1 is a
 * fraction of the last exit's FLOPs, a larger one is multiply-adds. The one place this rule lives.
 */
export function targetFlopsOf(target: number, exitFlops: readonly number[]): number {
  return target <= 1 ? target * exitFlops[exitFlops.length - 1]! : target;
}
