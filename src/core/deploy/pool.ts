/** How many requests to Knock are in flight at once. */
export const REQUESTS_IN_FLIGHT = 4;

/**
 * Runs `work` over `items` with at most `limit` at once, in order of start.
 * The first failure stops new work from starting; work already running is
 * awaited, then the failure is thrown (so nothing runs after the caller returns).
 */
export async function inPool<T, R>(items: readonly T[], limit: number, work: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  let failure: { error: unknown } | null = null;
  const worker = async (): Promise<void> => {
    while (failure === null && next < items.length) {
      const index = next++;
      try {
        results[index] = await work(items[index] as T, index);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failure !== null) throw (failure as { error: unknown }).error;
  return results;
}
