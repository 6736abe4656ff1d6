/**
 * Kafka access control from the topic catalogue: the ACLs each principal gets
 * (`kafkaAclsOf`, pure) and the reconciliation that makes a cluster's ACLs equal to them
 * (`reconcileAcls`: creates what is missing, deletes what the catalogue no longer grants, so
 * a topic removed from a principal's list is revoked at the next run).
 *
 * The rule, one place: a principal may READ the topics in its `reads`, WRITE those in its
 * `writes` (both imply DESCRIBE), use consumer groups whose id starts with its name (READ on
 * the group prefix: join, commit, describe) and, when `transactional`, transactional ids that
 * start with its name; every operation on its `ownedTopics` (outside the catalogue, as the
 * schema registry's store); when it `observes`, DESCRIBE on every topic and group (offsets and
 * committed offsets, no records). Idempotent producers need nothing more (since Kafka 3.0, WRITE on a
 * topic implies IdempotentWrite, KIP-679). Everything else is refused: the brokers run with
 * `allow.everyone.if.no.acl.found=false`; `admin` and `cluster` are super users.
 */
import kafkajs, { type AclEntry, type Admin } from 'kafkajs';
import type { Catalogue } from '#platform/serde';

const { AclOperationTypes, AclPermissionTypes, AclResourceTypes, ResourcePatternTypes } = kafkajs;

export type AclResource = 'TOPIC' | 'GROUP' | 'TRANSACTIONAL_ID';
export type AclOperation = 'READ' | 'WRITE' | 'DESCRIBE' | 'ALL';

/** One ALLOW entry for a principal from any host. */
export interface KafkaAcl {
  /** The SASL user name (the ACL's principal is `User:<name>`). */
  readonly principal: string;
  readonly resource: AclResource;
  readonly name: string;
  readonly pattern: 'LITERAL' | 'PREFIXED';
  readonly operation: AclOperation;
}

export function kafkaAclsOf(catalogue: Catalogue): KafkaAcl[] {
  const acls: KafkaAcl[] = [];
  for (const principal of catalogue.principals) {
    const grant = (
      resource: AclResource,
      name: string,
      pattern: KafkaAcl['pattern'],
      operation: AclOperation,
    ) => acls.push({ principal: principal.name, resource, name, pattern, operation });
    for (const topic of principal.reads) grant('TOPIC', topic, 'LITERAL', 'READ');
    for (const topic of principal.writes) grant('TOPIC', topic, 'LITERAL', 'WRITE');
    grant('GROUP', principal.name, 'PREFIXED', 'READ');
    if (principal.transactional) grant('TRANSACTIONAL_ID', principal.name, 'PREFIXED', 'WRITE');
    for (const topic of principal.ownedTopics) grant('TOPIC', topic, 'LITERAL', 'ALL');
    if (principal.observes) {
      // '*' as a LITERAL name is Kafka's wildcard: every topic and group, now and later.
      grant('TOPIC', '*', 'LITERAL', 'DESCRIBE');
      grant('GROUP', '*', 'LITERAL', 'DESCRIBE');
    }
  }
  return acls;
}

export function aclKey(acl: KafkaAcl): string {
  return `${acl.principal} ${acl.operation} ${acl.resource}:${acl.pattern}:${acl.name}`;
}

const RESOURCE_CODES: Readonly<Record<AclResource, number>> = {
  TOPIC: AclResourceTypes.TOPIC,
  GROUP: AclResourceTypes.GROUP,
  TRANSACTIONAL_ID: AclResourceTypes.TRANSACTIONAL_ID,
};
const OPERATION_CODES: Readonly<Record<AclOperation, number>> = {
  READ: AclOperationTypes.READ,
  WRITE: AclOperationTypes.WRITE,
  DESCRIBE: AclOperationTypes.DESCRIBE,
  ALL: AclOperationTypes.ALL,
};
const PATTERN_CODES = {
  LITERAL: ResourcePatternTypes.LITERAL,
  PREFIXED: ResourcePatternTypes.PREFIXED,
} as const;

const byCode = <K extends string>(
  codes: Readonly<Record<K, number>>,
  code: number,
): K | undefined => (Object.keys(codes) as K[]).find((key) => codes[key] === code);

function toKafkajs(acl: KafkaAcl): AclEntry {
  return {
    resourceType: RESOURCE_CODES[acl.resource],
    resourceName: acl.name,
    resourcePatternType: PATTERN_CODES[acl.pattern],
    principal: `User:${acl.principal}`,
    host: '*',
    operation: OPERATION_CODES[acl.operation],
    permissionType: AclPermissionTypes.ALLOW,
  };
}

/** An ACL found on the cluster: its key, and itself as the filter that deletes exactly it. */
interface ClusterAcl {
  readonly key: string;
  readonly filter: AclEntry;
}

async function describeAll(admin: Admin): Promise<ClusterAcl[]> {
  const { resources } = await admin.describeAcls({
    resourceType: AclResourceTypes.ANY,
    resourcePatternType: ResourcePatternTypes.ANY,
    operation: AclOperationTypes.ANY,
    permissionType: AclPermissionTypes.ANY,
  });
  const found: ClusterAcl[] = [];
  for (const resource of resources) {
    for (const entry of resource.acls) {
      const filter: AclEntry = {
        resourceType: resource.resourceType,
        resourceName: resource.resourceName,
        resourcePatternType: resource.resourcePatternType,
        principal: entry.principal,
        host: entry.host,
        operation: entry.operation,
        permissionType: entry.permissionType,
      };
      const [resourceKind, operation, pattern] = [
        byCode(RESOURCE_CODES, resource.resourceType),
        byCode(OPERATION_CODES, entry.operation),
        byCode(PATTERN_CODES, resource.resourcePatternType),
      ];
      // Only an ALLOW from any host for a User principal can equal a catalogue grant; any
      // other entry gets a key no grant has, so it is deleted as stale.
      const matchable =
        resourceKind &&
        operation &&
        pattern &&
        entry.host === '*' &&
        entry.permissionType === AclPermissionTypes.ALLOW &&
        entry.principal.startsWith('User:');
      const key = matchable
        ? aclKey({
            principal: entry.principal.slice('User:'.length),
            resource: resourceKind,
            name: resource.resourceName,
            pattern,
            operation,
          })
        : `unmanaged ${JSON.stringify(filter)}`;
      found.push({ key, filter });
    }
  }
  return found;
}

export interface AclReconciliation {
  readonly created: readonly string[];
  readonly deleted: readonly string[];
  readonly unchanged: number;
}

/**
 * Makes the cluster's ACLs equal to `desired`: creates the missing ones, deletes every other
 * ACL (the catalogue is the only source; an ACL added by hand is removed at the next run).
 * Needs a super user's client. ACL changes reach every broker through the metadata log
 * within about a second.
 */
export async function reconcileAcls(
  admin: Admin,
  desired: readonly KafkaAcl[],
): Promise<AclReconciliation> {
  const existing = await describeAll(admin);
  const existingKeys = new Set(existing.map((acl) => acl.key));
  const desiredKeys = new Set(desired.map(aclKey));
  const missing = desired.filter((acl) => !existingKeys.has(aclKey(acl)));
  const stale = existing.filter((acl) => !desiredKeys.has(acl.key));
  if (missing.length > 0) await admin.createAcls({ acl: missing.map(toKafkajs) });
  if (stale.length > 0) await admin.deleteAcls({ filters: stale.map((acl) => acl.filter) });
  return {
    created: missing.map(aclKey),
    deleted: stale.map((acl) => acl.key),
    unchanged: desired.length - missing.length,
  };
}
