/**
 * Last-resort cleanup when the bench is interrupted (Ctrl-C, SIGTERM, an uncaught exception):
 * `finally` blocks do not run then, and the cluster's supervisor runs in its own process group,
 * so it would outlive the bench. Each entry must be synchronous (a signal to a process).
 */
const actions = new Set<() => void>();

/** Registers `action`; call the returned function once the normal cleanup has run. */
export function onInterrupt(action: () => void): () => void {
  actions.add(action);
  return () => actions.delete(action);
}

export function runInterruptActions(): void {
  // Newest first: stop processes before removing the directories they use.
  for (const action of [...actions].reverse()) {
    try {
      action();
    } catch {
      // Best effort: the process may be gone already.
    }
  }
  actions.clear();
}
