import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import express from 'express';
import { loadAll, YAML11_SCHEMA } from 'js-yaml';
import { HorizontalPodAutoscaler, type IHorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler';
import { Deployment, type IDeployment } from 'kubernetes-models/apps/v1/Deployment';
import { Ingress, type IIngress } from 'kubernetes-models/networking.k8s.io/v1/Ingress';
import { PodDisruptionBudget, type IPodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { ConfigMap, type IConfigMap } from 'kubernetes-models/v1/ConfigMap';
import type { IContainer } from 'kubernetes-models/v1/Container';
import { Namespace } from 'kubernetes-models/v1/Namespace';
import type { IProbe } from 'kubernetes-models/v1/Probe';
import { Secret, type ISecret } from 'kubernetes-models/v1/Secret';
import { Service, type IService } from 'kubernetes-models/v1/Service';
import { ConfigError, loadConfig, parseConfig } from '../../../config/index.ts';
import { createHealthRoutes } from '../../../http/health-routes.ts';
import type { Store } from '../../../store/types.ts';

/**
 * The Kubernetes manifests (kubernetes/) and the Dockerfile, checked offline:
 *  - every document against Kubernetes' own API schemas (kubernetes-models ships them compiled to
 *    ajv validators), strictly: a field the schema does not know fails too (as `kubectl apply
 *    --validate=strict` would);
 *  - against the app: env names are ones Warden reads, the resulting environment passes Warden's
 *    own config validation, probe paths answer on the real health router, commands name real
 *    roles; and against each other: selectors, ports, Ingress backends, HPA/PDB targets.
 */

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const MANIFEST_DIR = join(ROOT, 'kubernetes');
const ROLES = ['state', 'broker', 'worker'] as const;
type Role = (typeof ROLES)[number];

type Json = Record<string, unknown>;

interface Doc {
  readonly file: string;
  readonly index: number;
  readonly body: Json;
  readonly apiVersion: string;
  readonly kind: string;
  readonly name: string;
}

const isObject = (value: unknown): value is Json =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** Parses YAML the way kubectl does (YAML 1.1: an unquoted `off` or `yes` is a boolean). */
function parseYaml(text: string): unknown[] {
  return loadAll(text, { schema: YAML11_SCHEMA }).filter((doc) => doc !== null && doc !== undefined);
}

function loadManifests(): Doc[] {
  const files = readdirSync(MANIFEST_DIR)
    .filter((f) => /\.ya?ml$/.test(f) && f !== 'kustomization.yaml')
    .sort();
  return files.flatMap((file) =>
    parseYaml(readFileSync(join(MANIFEST_DIR, file), 'utf8')).map((body, index) => {
      assert.ok(isObject(body), `${file} document ${index}: not a mapping`);
      const metadata = isObject(body.metadata) ? body.metadata : {};
      return {
        file,
        index,
        body,
        apiVersion: String(body.apiVersion),
        kind: String(body.kind),
        name: String(metadata.name),
      };
    }),
  );
}

// ---------------------------------------------------------------------------------------------
// Schema validation

type Validate = (this: unknown) => void;

/** The API kinds Warden's manifests may use, each with Kubernetes' schema for it. */
const VALIDATORS = new Map<string, Validate>([
  ['v1/Namespace', Namespace.prototype.validate],
  ['v1/ConfigMap', ConfigMap.prototype.validate],
  ['v1/Secret', Secret.prototype.validate],
  ['v1/Service', Service.prototype.validate],
  ['apps/v1/Deployment', Deployment.prototype.validate],
  ['networking.k8s.io/v1/Ingress', Ingress.prototype.validate],
  ['policy/v1/PodDisruptionBudget', PodDisruptionBudget.prototype.validate],
  ['autoscaling/v2/HorizontalPodAutoscaler', HorizontalPodAutoscaler.prototype.validate],
]);

/**
 * Wraps `value` so that every property the validator looks at (by name, or by listing an
 * object's keys for a map such as `labels`) is recorded in `seen` as a JSON pointer. The
 * compiled validators look up every property their schema defines, so a key never looked at is
 * one the schema does not know.
 */
function track(value: unknown, path: string, seen: Set<string>): unknown {
  if (typeof value !== 'object' || value === null) return value;
  return new Proxy(value, {
    get(target, key, receiver) {
      const child: unknown = Reflect.get(target, key, receiver);
      if (typeof key !== 'string') return child;
      seen.add(`${path}/${key}`);
      return track(child, `${path}/${key}`, seen);
    },
    ownKeys(target) {
      const keys = Reflect.ownKeys(target);
      for (const key of keys) if (typeof key === 'string') seen.add(`${path}/${key}`);
      return keys;
    },
  });
}

function unknownFields(value: unknown, path: string, seen: Set<string>): string[] {
  if (typeof value !== 'object' || value === null) return [];
  return Object.entries(value).flatMap(([key, child]) => {
    const pointer = `${path}/${key}`;
    return seen.has(pointer) ? unknownFields(child, pointer, seen) : [pointer];
  });
}

/** Schema errors of one document (empty when valid), in kubectl's strict sense. */
function schemaErrors(body: unknown): string[] {
  if (!isObject(body)) return ['a manifest must be a mapping'];
  const type = `${String(body.apiVersion)}/${String(body.kind)}`;
  const validate = VALIDATORS.get(type);
  if (validate === undefined) return [`no schema for ${type}`];
  const seen = new Set<string>();
  try {
    validate.call(track(body, '', seen));
  } catch (error) {
    return [(error as Error).message];
  }
  return unknownFields(body, '', seen).map((pointer) => `data${pointer}: unknown field for ${type}`);
}

// ---------------------------------------------------------------------------------------------
// What Warden reads

/** Every variable `loadConfig` (config/config.ts and config/secrets.ts) looks at. */
function variablesWardenReads(): Set<string> {
  const read = new Set<string>();
  const given: NodeJS.ProcessEnv = { AUTH_KEY: 'a'.repeat(32), SCC_AUTH_KEY: 'b'.repeat(32) };
  const env = new Proxy(given, {
    get(target, key) {
      if (typeof key === 'string') read.add(key);
      return typeof key === 'string' ? target[key] : undefined;
    },
  });
  loadConfig(env);
  return read;
}

const ALWAYS_ALLOWED = ['AUTH_KEY', 'SCC_AUTH_KEY', 'DATABASE_URL', 'SCC_INSTANCE_IP', 'NODE_ENV'];

// ---------------------------------------------------------------------------------------------
// Helpers over the parsed manifests

const TEST_SECRETS: Record<string, string> = {
  AUTH_KEY: 'test-jwt-key-0123456789abcdef0123456789',
  SCC_AUTH_KEY: 'test-scc-key-0123456789abcdef0123456789',
  DATABASE_URL: 'mysql://warden:secret@db.test:3306/warden',
};

function selects(selector: Record<string, string> | undefined, labels: Record<string, string> | undefined) {
  const wanted = Object.entries(selector ?? {});
  return wanted.length > 0 && wanted.every(([key, value]) => labels?.[key] === value);
}

function roleOf(deployment: IDeployment): Role {
  const role = deployment.spec?.template.metadata?.labels?.['app.kubernetes.io/component'];
  assert.ok(ROLES.includes(role as Role), `${deployment.metadata?.name}: component label ${role}`);
  return role as Role;
}

/** The container port that a Service targetPort or probe port (name or number) refers to. */
function resolvePort(containers: readonly IContainer[], port: string | number | undefined): number | undefined {
  for (const container of containers) {
    for (const p of container.ports ?? []) {
      if (p.name === port || p.containerPort === port) return p.containerPort;
    }
  }
  return undefined;
}

function probePort(probe: IProbe): string | number | undefined {
  return probe.httpGet?.port ?? probe.tcpSocket?.port ?? undefined;
}

/** Seconds a preStop hook waits: `sleep N` (exec) or the sleep action. */
function preStopSeconds(container: IContainer): number {
  const hook = container.lifecycle?.preStop;
  if (hook?.sleep !== undefined) return hook.sleep.seconds;
  const command = hook?.exec?.command ?? [];
  const at = command.indexOf('sleep');
  return at >= 0 ? Number(command[at + 1]) : 0;
}

interface FinalStage {
  readonly from: string;
  readonly lines: readonly string[];
}

/** The Dockerfile's stages, instruction by instruction (continuations joined, comments dropped). */
function dockerStages(text: string): FinalStage[] {
  const instructions = text
    .replace(/\\\r?\n/g, ' ')
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
  const stages: { from: string; lines: string[] }[] = [];
  for (const line of instructions) {
    const from = /^FROM\s+(.+)$/i.exec(line);
    if (from !== null) stages.push({ from: from[1] ?? '', lines: [] });
    else stages.at(-1)?.lines.push(line);
  }
  return stages;
}

// ---------------------------------------------------------------------------------------------

describe('Kubernetes manifests (kubernetes/)', () => {
  const docs = loadManifests();
  const ofKind = <T>(kind: string) => docs.filter((d) => d.kind === kind).map((d) => d.body as unknown as T);
  const deployments = ofKind<IDeployment>('Deployment');
  const services = ofKind<IService>('Service');
  const configMaps = ofKind<IConfigMap>('ConfigMap');
  const secrets = ofKind<ISecret>('Secret');
  const ingresses = ofKind<IIngress>('Ingress');
  const budgets = ofKind<IPodDisruptionBudget>('PodDisruptionBudget');
  const autoscalers = ofKind<IHorizontalPodAutoscaler>('HorizontalPodAutoscaler');
  const deploymentOf = (role: Role) => {
    const found = deployments.find((d) => roleOf(d) === role);
    assert.ok(found, `no Deployment for the ${role} role`);
    return found;
  };
  const containersOf = (deployment: IDeployment) => deployment.spec?.template.spec?.containers ?? [];
  const configMapData = () => Object.assign({}, ...configMaps.map((c) => c.data ?? {})) as Record<string, string>;

  /** The environment a container starts with (ConfigMap, Secret and downward API resolved). */
  function environmentOf(container: IContainer): Record<string, string> {
    const env: Record<string, string> = {};
    for (const source of container.envFrom ?? []) {
      if (source.configMapRef) {
        Object.assign(env, configMaps.find((c) => c.metadata?.name === source.configMapRef?.name)?.data);
      }
      if (source.secretRef) {
        const secret = secrets.find((s) => s.metadata?.name === source.secretRef?.name);
        for (const key of Object.keys(secret?.stringData ?? secret?.data ?? {})) env[key] = TEST_SECRETS[key] ?? '';
      }
    }
    for (const variable of container.env ?? []) {
      const from = variable.valueFrom;
      if (variable.value !== undefined) env[variable.name] = variable.value;
      else if (from?.secretKeyRef) env[variable.name] = TEST_SECRETS[from.secretKeyRef.key] ?? '';
      else if (from?.configMapKeyRef) env[variable.name] = configMapData()[from.configMapKeyRef.key] ?? '';
      else if (from?.fieldRef?.fieldPath === 'status.podIP') env[variable.name] = '10.1.2.3';
    }
    return env;
  }

  describe('Kubernetes API schemas', () => {
    it('finds the manifests: one Deployment per role, and each kind Warden needs', () => {
      assert.deepEqual(deployments.map(roleOf).sort(), [...ROLES].sort());
      for (const kind of ['Namespace', 'ConfigMap', 'Secret', 'Service', 'Ingress']) {
        assert.ok(
          docs.some((d) => d.kind === kind),
          `no ${kind}`,
        );
      }
      assert.ok(budgets.length > 0 && autoscalers.length > 0);
    });

    it('validates every document of every manifest, strictly', () => {
      const failures = docs.flatMap((d) =>
        schemaErrors(d.body).map((error) => `${d.file} #${d.index} ${d.kind}/${d.name}: ${error}`),
      );
      assert.deepEqual(failures, []);
    });

    it('rejects a broken Deployment (replicas: two), so the validator does validate', () => {
      const broken = parseYaml(`
apiVersion: apps/v1
kind: Deployment
metadata: {name: broken}
spec:
  replicas: two
  selector: {matchLabels: {app: broken}}
  template:
    metadata: {labels: {app: broken}}
    spec:
      containers: [{name: c, image: warden:latest}]
`)[0];
      const errors = schemaErrors(broken);
      assert.match(errors.join('\n'), /\/spec\/replicas must be integer/);
      const fixed = structuredClone(broken) as { spec: { replicas: unknown } };
      fixed.spec.replicas = 2;
      assert.deepEqual(schemaErrors(fixed), []);
    });

    it('rejects a field the schema does not know (a typo such as readinesProbe) and a wrong type', () => {
      const worker = structuredClone(deploymentOf('worker')) as unknown as Json;
      const container = containersOf(worker as unknown as IDeployment)[0] as unknown as Json;
      container.readinesProbe = container.readinessProbe;
      delete container.readinessProbe;
      assert.match(schemaErrors(worker).join('\n'), /containers\/0\/readinesProbe: unknown field/);

      const configMap = structuredClone(configMaps[0]) as unknown as { data: Record<string, unknown> };
      configMap.data.PORT = 8000; // unquoted in YAML: a number, which a ConfigMap cannot hold
      assert.match(schemaErrors(configMap).join('\n'), /\/data\/PORT must be string/);
      assert.match(schemaErrors({ apiVersion: 'apps/v1', kind: 'DaemonSet' }).join(), /no schema/);
    });

    it('labels every object app.kubernetes.io/name: warden and puts it in the warden namespace', () => {
      for (const d of docs) {
        const metadata = d.body.metadata as { labels?: Record<string, string>; namespace?: string };
        assert.equal(metadata.labels?.['app.kubernetes.io/name'], 'warden', `${d.file} ${d.kind}/${d.name}`);
        if (d.kind !== 'Namespace') assert.equal(metadata.namespace, 'warden', `${d.file} ${d.kind}/${d.name}`);
      }
    });

    it('lists every manifest in kustomization.yaml, except the example Secret', () => {
      const [kustomization] = parseYaml(readFileSync(join(MANIFEST_DIR, 'kustomization.yaml'), 'utf8'));
      assert.ok(isObject(kustomization));
      assert.equal(kustomization.apiVersion, 'kustomize.config.k8s.io/v1beta1');
      assert.equal(kustomization.kind, 'Kustomization');
      const files = [...new Set(docs.map((d) => d.file))].filter((f) => f !== 'secret.example.yaml');
      assert.deepEqual([...(kustomization.resources as string[])].sort(), files.sort());
    });
  });

  describe('against Warden and each other', () => {
    it('runs `node bin/warden.js <role>` in each Deployment, with the replicas the topology needs', () => {
      for (const deployment of deployments) {
        const [container, ...others] = containersOf(deployment);
        assert.equal(others.length, 0);
        assert.deepEqual(container?.command, ['node', 'bin/warden.js', roleOf(deployment)]);
        assert.equal(container?.args, undefined);
      }
      assert.equal(deploymentOf('state').spec?.replicas, 1);
      assert.equal(deploymentOf('state').spec?.strategy?.type, 'Recreate');
      assert.equal(deploymentOf('broker').spec?.replicas, 2);
    });

    it('labels pods with name and component, and selects them by those labels', () => {
      for (const deployment of deployments) {
        const labels = deployment.spec?.template.metadata?.labels;
        assert.equal(labels?.['app.kubernetes.io/name'], 'warden');
        assert.ok(selects(deployment.spec?.selector.matchLabels, labels), `${deployment.metadata?.name} selector`);
      }
    });

    it('matches every Service selector to one Deployment, and each targetPort to a containerPort', () => {
      for (const service of services) {
        const name = service.metadata?.name;
        const targets = deployments.filter((d) => selects(service.spec?.selector, d.spec?.template.metadata?.labels));
        assert.equal(targets.length, 1, `Service ${name} selects ${targets.length} Deployments`);
        const [target] = targets as [IDeployment];
        for (const port of service.spec?.ports ?? []) {
          assert.ok(
            resolvePort(containersOf(target), port.targetPort ?? port.port) !== undefined,
            `Service ${name} port ${port.name}: targetPort ${port.targetPort} is no containerPort of ${target.metadata?.name}`,
          );
        }
      }
      const broker = services.find((s) => selects(s.spec?.selector, deploymentOf('broker').spec?.template.metadata?.labels));
      assert.equal(broker?.spec?.clusterIP, 'None', 'the broker Service is headless');
    });

    it('tells the workers to believe the ingress controller about client addresses', () => {
      const data = configMaps.find((c) => c.metadata?.name === 'warden-config')?.data ?? {};
      assert.ok(data.TRUST_PROXY, 'TRUST_PROXY is set: behind the Ingress every user would share one address');
      const config = parseConfig(
        { ...data },
        { authKey: 'a'.repeat(32), sccAuthKey: 's'.repeat(32) },
      );
      assert.ok(config.trustProxy.length > 0);
      assert.ok(config.publicUrl?.startsWith('https://'));
    });

    it('uses only variables Warden reads, from a ConfigMap and Secret that exist', () => {
      const reads = variablesWardenReads();
      assert.ok(reads.has('PORT') && reads.has('SCC_STATE_SERVER_HOST') && reads.has('TOKEN_TTL'), 'Proxy saw the reads');
      const allowed = new Set([...reads, ...ALWAYS_ALLOWED]);
      const unknown: string[] = [];
      const check = (where: string, name: string) => {
        if (!allowed.has(name)) unknown.push(`${where}: ${name}`);
      };
      for (const configMap of configMaps) {
        for (const key of Object.keys(configMap.data ?? {})) check(`ConfigMap ${configMap.metadata?.name}`, key);
      }
      for (const secret of secrets) {
        assert.equal(secret.data, undefined, 'the example Secret uses stringData');
        for (const key of Object.keys(secret.stringData ?? {})) check(`Secret ${secret.metadata?.name}`, key);
      }
      for (const deployment of deployments) {
        for (const container of containersOf(deployment)) {
          const where = `${deployment.metadata?.name}/${container.name}`;
          for (const variable of container.env ?? []) {
            check(where, variable.name);
            const secretRef = variable.valueFrom?.secretKeyRef;
            if (secretRef) {
              const secret = secrets.find((s) => s.metadata?.name === secretRef.name);
              assert.ok(secret?.stringData?.[secretRef.key] !== undefined, `${where}: no Secret key ${secretRef.key}`);
            }
            const configRef = variable.valueFrom?.configMapKeyRef;
            if (configRef) assert.ok(configMapData()[configRef.key] !== undefined, `${where}: ${configRef.key}`);
          }
          for (const source of container.envFrom ?? []) {
            if (source.configMapRef) {
              const name = source.configMapRef.name;
              assert.ok(configMaps.some((c) => c.metadata?.name === name), `${where}: no ConfigMap ${name}`);
            }
            if (source.secretRef) {
              const name = source.secretRef.name;
              assert.ok(secrets.some((s) => s.metadata?.name === name), `${where}: no Secret ${name}`);
            }
          }
        }
      }
      assert.deepEqual(unknown, []);
    });

    it("gives each role an environment that passes Warden's own config validation", () => {
      const stateService = services.find((s) => selects(s.spec?.selector, deploymentOf('state').spec?.template.metadata?.labels));
      for (const role of ROLES) {
        const [container] = containersOf(deploymentOf(role)) as [IContainer];
        const env = environmentOf(container);
        const config = loadConfig(env);
        assert.equal(config.production, true, `${role}: NODE_ENV=production`);
        assert.equal(config.authKey, TEST_SECRETS.AUTH_KEY, `${role}: AUTH_KEY from the Secret`);
        assert.equal(config.sccAuthKey, TEST_SECRETS.SCC_AUTH_KEY, `${role}: SCC_AUTH_KEY from the Secret`);
        assert.equal(config.sccStateServerHost, stateService?.metadata?.name, `${role}: state server = its Service`);
        assert.equal(config.sccStateServerPort, stateService?.spec?.ports?.[0]?.port);
        if (role !== 'state') {
          const ip = container.env?.find((e) => e.name === 'SCC_INSTANCE_IP');
          assert.equal(ip?.valueFrom?.fieldRef?.fieldPath, 'status.podIP', `${role}: SCC_INSTANCE_IP from status.podIP`);
          assert.equal(config.sccInstanceIp, '10.1.2.3');
        }
      }
      const ports = (role: Role) => containersOf(deploymentOf(role)).flatMap((c) => c.ports ?? []);
      const config = loadConfig(environmentOf(containersOf(deploymentOf('worker'))[0] as IContainer));
      assert.ok(ports('state').some((p) => p.containerPort === config.sccStateServerPort));
      assert.ok(ports('broker').some((p) => p.containerPort === config.sccBrokerServerPort));
      assert.ok(ports('worker').some((p) => p.containerPort === config.port));
      assert.equal(config.databaseUrl, TEST_SECRETS.DATABASE_URL, 'workers get DATABASE_URL from the Secret');
    });

    it('ships placeholder keys that Warden refuses, so an unedited example Secret fails closed', () => {
      const [example] = secrets;
      const stringData = example?.stringData ?? {};
      assert.match(String(stringData.AUTH_KEY), /CHANGE_ME/);
      assert.match(String(stringData.SCC_AUTH_KEY), /CHANGE_ME/);
      const env = { ...configMapData(), ...stringData };
      assert.throws(() => loadConfig(env), (error: unknown) => error instanceof ConfigError && error.variable === 'AUTH_KEY');
    });

    it('probes workers on /healthz and /readyz (served by the real health routes) and the others over TCP', async () => {
      const worker = containersOf(deploymentOf('worker'))[0] as IContainer;
      assert.equal(worker.readinessProbe?.httpGet?.path, '/readyz');
      assert.equal(worker.livenessProbe?.httpGet?.path, '/healthz');
      const paths = [worker.readinessProbe, worker.livenessProbe, worker.startupProbe].flatMap((p) => p?.httpGet?.path ?? []);

      const app = express();
      const store = { ping: async () => undefined } as unknown as Store;
      app.use(createHealthRoutes({ store, brokerReady: () => true, accepting: () => true }));
      const server = app.listen(0, '127.0.0.1');
      await new Promise<void>((resolve) => server.once('listening', resolve));
      try {
        const { port } = server.address() as AddressInfo;
        for (const path of paths) {
          const response = await fetch(`http://127.0.0.1:${port}${path}`);
          assert.equal(response.status, 200, `GET ${path}`);
        }
      } finally {
        await new Promise((resolve) => server.close(resolve));
      }

      for (const deployment of deployments) {
        const containers = containersOf(deployment);
        for (const container of containers) {
          const probes = [container.readinessProbe, container.livenessProbe, container.startupProbe];
          assert.ok(container.readinessProbe && container.livenessProbe, `${container.name}: readiness and liveness`);
          for (const probe of probes) {
            if (probe === undefined) continue;
            assert.ok(resolvePort(containers, probePort(probe)) !== undefined, `${container.name}: probe port`);
            if (roleOf(deployment) !== 'worker') assert.ok(probe.tcpSocket, `${container.name}: TCP probes`);
          }
        }
      }
    });

    it('gives workers time to drain: preStop, then SHUTDOWN_TIMEOUT, inside the grace period', () => {
      const deployment = deploymentOf('worker');
      const container = containersOf(deployment)[0] as IContainer;
      const sleep = preStopSeconds(container);
      assert.ok(sleep >= 3, `preStop waits ${sleep}s for the endpoints to update`);
      const config = loadConfig(environmentOf(container));
      const grace = deployment.spec?.template.spec?.terminationGracePeriodSeconds ?? 30;
      assert.ok(grace >= sleep + config.shutdownTimeout + 5, `grace ${grace}s < ${sleep}s + ${config.shutdownTimeout}s + 5s`);
    });

    it('runs every container as non-root with a read-only root, no privileges, and resource bounds', () => {
      for (const deployment of deployments) {
        const pod = deployment.spec?.template.spec;
        const where = deployment.metadata?.name;
        assert.equal(pod?.securityContext?.runAsNonRoot, true, `${where}: pod runAsNonRoot`);
        assert.equal(pod?.securityContext?.runAsUser, 10001, `${where}: pod runAsUser`);
        assert.equal(pod?.securityContext?.seccompProfile?.type, 'RuntimeDefault', `${where}: seccomp`);
        const volumes = new Set((pod?.volumes ?? []).map((v) => v.name));
        for (const container of pod?.containers ?? []) {
          const security = container.securityContext;
          assert.equal(security?.allowPrivilegeEscalation, false, `${where}: allowPrivilegeEscalation`);
          assert.equal(security?.readOnlyRootFilesystem, true, `${where}: readOnlyRootFilesystem`);
          assert.equal(security?.runAsNonRoot, true, `${where}: container runAsNonRoot`);
          assert.ok(security?.capabilities?.drop?.includes('ALL'), `${where}: drop ALL`);
          for (const bound of ['requests', 'limits'] as const) {
            assert.ok(container.resources?.[bound]?.cpu, `${where}: ${bound}.cpu`);
            assert.ok(container.resources?.[bound]?.memory, `${where}: ${bound}.memory`);
          }
          const mounts = container.volumeMounts ?? [];
          for (const mount of mounts) assert.ok(volumes.has(mount.name), `${where}: volume ${mount.name}`);
          // The compiled build keeps no transpile cache: DATA_DIR is the only writable path.
          assert.deepEqual(
            mounts.map((m) => m.mountPath).filter((path) => path !== configMapData().DATA_DIR),
            [],
            `${where}: writable paths other than DATA_DIR`,
          );
        }
      }
    });

    it('points the PodDisruptionBudgets and the HorizontalPodAutoscaler at Deployments that exist', () => {
      for (const budget of budgets) {
        assert.ok(
          deployments.some((d) => selects(budget.spec?.selector?.matchLabels, d.spec?.template.metadata?.labels)),
          `PDB ${budget.metadata?.name} selects no pods`,
        );
      }
      assert.ok(budgets.some((b) => selects(b.spec?.selector?.matchLabels, deploymentOf('worker').spec?.template.metadata?.labels)));
      assert.equal(autoscalers.length, 1);
      const [hpa] = autoscalers as [IHorizontalPodAutoscaler];
      assert.deepEqual(
        { kind: hpa.spec?.scaleTargetRef.kind, name: hpa.spec?.scaleTargetRef.name },
        { kind: 'Deployment', name: deploymentOf('worker').metadata?.name },
      );
      assert.ok((hpa.spec?.minReplicas ?? 1) >= 2, 'at least two workers');
      assert.equal(hpa.spec?.metrics?.[0]?.resource?.name, 'cpu');
      assert.equal(deploymentOf('worker').spec?.replicas, undefined, 'the HPA owns the worker count');
    });

    it('routes the Ingress to the worker Service, WebSocket-friendly, for the allowed origin', () => {
      assert.equal(ingresses.length, 1);
      const [ingress] = ingresses as [IIngress];
      const annotations = ingress.metadata?.annotations ?? {};
      assert.equal(annotations['nginx.ingress.kubernetes.io/proxy-read-timeout'], '3600');
      assert.equal(annotations['nginx.ingress.kubernetes.io/proxy-send-timeout'], '3600');
      assert.equal(annotations['nginx.ingress.kubernetes.io/proxy-buffering'], 'off');
      assert.equal(annotations['nginx.ingress.kubernetes.io/affinity'], undefined, 'no cookie affinity');
      assert.equal(ingress.spec?.ingressClassName, 'nginx');
      const workerService = services.find((s) => selects(s.spec?.selector, deploymentOf('worker').spec?.template.metadata?.labels));
      const origins = (configMapData().ALLOWED_ORIGINS ?? '').split(',').map((o) => o.trim());
      for (const rule of ingress.spec?.rules ?? []) {
        assert.ok(origins.includes(`https://${rule.host}`), `ALLOWED_ORIGINS has https://${rule.host}`);
        for (const path of rule.http?.paths ?? []) {
          const backend = path.backend.service;
          const service = services.find((s) => s.metadata?.name === backend?.name);
          assert.ok(service, `Ingress backend ${backend?.name} is a Service`);
          assert.equal(service, workerService, 'the Ingress serves the workers');
          assert.ok(
            service.spec?.ports?.some((p) => p.name === backend?.port?.name || p.port === backend?.port?.number),
            `Service ${backend?.name} has port ${backend?.port?.name ?? backend?.port?.number}`,
          );
        }
      }
    });
  });
});

describe('Dockerfile', () => {
  const stages = dockerStages(readFileSync(join(ROOT, 'Dockerfile'), 'utf8'));
  const final = stages.at(-1) as FinalStage;

  it('builds on node:20-bookworm-slim in stages, installing with npm ci and pruning dev dependencies', () => {
    assert.ok(stages.length >= 2, 'multi-stage');
    for (const stage of stages) assert.match(stage.from, /^node:20-bookworm-slim\b/);
    const build = stages.slice(0, -1).flatMap((s) => s.lines);
    assert.ok(build.some((l) => /^RUN .*\bnpm ci\b/.test(l)));
    assert.ok(build.some((l) => /^RUN .*\bnpm prune --omit=dev\b/.test(l)));
    assert.ok(!final.lines.some((l) => /\bnpm (ci|install)\b/.test(l)), 'the final stage installs nothing');
  });

  it('runs the final stage as a non-root USER with an exec-form CMD and NODE_ENV=production', () => {
    const users = final.lines.filter((l) => /^USER\s/i.test(l));
    assert.ok(users.length > 0, 'a USER instruction');
    const user = (users.at(-1) ?? '').replace(/^USER\s+/i, '').split(':')[0];
    assert.ok(user !== undefined && !['root', '0'].includes(user), `USER ${user}`);
    const cmd = final.lines.filter((l) => /^CMD\s/i.test(l)).at(-1) ?? '';
    const json = cmd.replace(/^CMD\s+/i, '');
    assert.deepEqual(JSON.parse(json), ['node', 'bin/warden.js', 'worker'], 'exec-form CMD');
    assert.ok(!final.lines.some((l) => /^ENTRYPOINT\s+[^[]/i.test(l)), 'no shell-form ENTRYPOINT');
    assert.ok(final.lines.some((l) => /^ENV\s+NODE_ENV[= ]production$/.test(l)));
    const exposed = final.lines.filter((l) => /^EXPOSE\s/i.test(l)).flatMap((l) => l.split(/\s+/).slice(1));
    assert.deepEqual(exposed.sort(), ['7777', '8000', '8888']);
  });

  it('compiles in the build stage and ships only the build and production dependencies', () => {
    const build = stages.slice(0, -1).flatMap((s) => s.lines);
    const compile = build.findIndex((l) => /^RUN .*\bnpm run build\b/.test(l));
    const prune = build.findIndex((l) => /^RUN .*\bnpm prune --omit=dev\b/.test(l));
    assert.ok(compile >= 0 && compile < prune, 'npm run build, then npm prune --omit=dev');
    const copied = final.lines
      .filter((l) => /^COPY\s/i.test(l))
      .map((l) => {
        assert.match(l, /^COPY --from=build \/app\/\S+ \S+$/, l);
        return l.split(/\s+/)[2]?.replace(/^\/app\//, '');
      });
    assert.deepEqual(copied.sort(), ['bin', 'client', 'dist', 'node_modules', 'package.json']);
    // The entry point runs dist/ without a loader, and pruning removes the loader and the compiler.
    assert.doesNotMatch(readFileSync(join(ROOT, 'bin', 'warden.js'), 'utf8'), /\btsx\b/);
    const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as {
      packages: Record<string, { dev?: boolean }>;
    };
    for (const name of ['tsx', 'esbuild', 'typescript']) {
      assert.equal(lock.packages[`node_modules/${name}`]?.dev, true, `${name} is a dev dependency`);
    }
  });

  it('keeps node_modules, .git, data and tests out of the build context', () => {
    const ignored = readFileSync(join(ROOT, '.dockerignore'), 'utf8')
      .split(/\r?\n/)
      .map((l) => l.trim());
    for (const entry of ['node_modules', '.git', 'data', 'test']) assert.ok(ignored.includes(entry), entry);
  });
});
