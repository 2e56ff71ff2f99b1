// Messages between the views of one page (ExplorerLink.publish / subscribe): one view says what a person
// picked ("component" 3), another that listens acts on it. A topic is a plain string; the payload is the
// publisher's to document.
export class ViewBus {
  private listeners = new Map<string, Set<(detail: unknown) => void>>();

  publish = (topic: string, detail: unknown): void => {
    for (const fn of [...(this.listeners.get(topic) ?? [])]) fn(detail);
  };

  subscribe = (topic: string, fn: (detail: unknown) => void): (() => void) => {
    const set = this.listeners.get(topic) ?? new Set();
    set.add(fn);
    this.listeners.set(topic, set);
    return () => { set.delete(fn); };
  };
}
