import { Registry, collectDefaultMetrics } from 'prom-client';

export { Registry } from 'prom-client';

/** One registry per process, with Node's default metrics and the service label. */
export function createMetricsRegistry(service: string): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  collectDefaultMetrics({ register: registry });
  return registry;
}
