import { objectKey } from "../api/resources.js";
import type { InvalidObject, WatchEvent } from "../store/store.js";

/**
 * The objects the store reported as invalid (an older CRD let them in), by key, so the
 * reconciler says so in their status instead of acting on them or on an older cached copy.
 * An entry goes when the object is seen valid again (any watch event for it) or is gone.
 * Fed by the store's callbacks and its watch; holds the report, not the object.
 */
export class InvalidObjects {
  private readonly reports = new Map<string, InvalidObject>();

  /** Records the report; returns its key (what the handler enqueues). */
  report(object: InvalidObject): string {
    const key = objectKey(object.kind, object.namespace, object.name);
    this.reports.set(key, object);
    return key;
  }

  /** A valid event for an object means its spec was fixed (or it was deleted): it is no longer invalid. */
  apply(event: WatchEvent): void {
    this.reports.delete(objectKey(event.object.kind, event.object.metadata.namespace, event.object.metadata.name));
  }

  get(key: string): InvalidObject | undefined {
    return this.reports.get(key);
  }

  forget(key: string): void {
    this.reports.delete(key);
  }
}
