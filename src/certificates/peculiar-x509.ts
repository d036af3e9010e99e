/**
 * Loads @peculiar/x509 (used only to *create* certificates: key generation and
 * rotation, a rare operation) on first use.
 *
 * @peculiar/x509 2.x resolves its algorithms through tsyringe, which refuses
 * to load without the Reflect metadata API ("tsyringe requires a reflect
 * polyfill"). The usual polyfill, reflect-metadata, is not a dependency of the
 * project, so a minimal, spec-shaped one is installed here before the import,
 * and only if no polyfill is present. tsyringe only stores and reads metadata
 * on the library's own classes, none of which has constructor parameters.
 * Verification does not need any of this: it parses certificates with
 * node:crypto's X509Certificate.
 */

type X509Module = typeof import('@peculiar/x509');

let loading: Promise<X509Module> | undefined;

/** The @peculiar/x509 module, set up to use Node's WebCrypto. */
export function loadX509(): Promise<X509Module> {
  loading ??= (async () => {
    installReflectMetadata();
    const x509 = await import('@peculiar/x509');
    x509.cryptoProvider.set(globalThis.crypto);
    return x509;
  })();
  return loading;
}

type MetadataKey = unknown;
type PropertyKeyOrNone = string | symbol | undefined;

interface ReflectMetadataApi {
  getMetadata(key: MetadataKey, target: object, property?: PropertyKeyOrNone): unknown;
  getOwnMetadata(key: MetadataKey, target: object, property?: PropertyKeyOrNone): unknown;
  hasMetadata(key: MetadataKey, target: object, property?: PropertyKeyOrNone): boolean;
  hasOwnMetadata(key: MetadataKey, target: object, property?: PropertyKeyOrNone): boolean;
  defineMetadata(key: MetadataKey, value: unknown, target: object, property?: PropertyKeyOrNone): void;
  metadata(key: MetadataKey, value: unknown): (target: object, property?: PropertyKeyOrNone) => void;
}

function installReflectMetadata(): void {
  const reflect = Reflect as unknown as Partial<ReflectMetadataApi>;
  if (typeof reflect.getMetadata === 'function') return;

  const store = new WeakMap<object, Map<PropertyKeyOrNone, Map<MetadataKey, unknown>>>();
  const own = (target: object, property: PropertyKeyOrNone, create: boolean): Map<MetadataKey, unknown> | undefined => {
    let byProperty = store.get(target);
    if (!byProperty) {
      if (!create) return undefined;
      byProperty = new Map();
      store.set(target, byProperty);
    }
    let values = byProperty.get(property);
    if (!values && create) {
      values = new Map();
      byProperty.set(property, values);
    }
    return values;
  };
  const api: ReflectMetadataApi = {
    getOwnMetadata: (key, target, property) => own(target, property, false)?.get(key),
    hasOwnMetadata: (key, target, property) => own(target, property, false)?.has(key) ?? false,
    getMetadata(key, target, property) {
      // Metadata is inherited along the prototype chain.
      for (let t: object | null = target; t !== null; t = Object.getPrototypeOf(t) as object | null) {
        const values = own(t, property, false);
        if (values?.has(key)) return values.get(key);
      }
      return undefined;
    },
    hasMetadata(key, target, property) {
      for (let t: object | null = target; t !== null; t = Object.getPrototypeOf(t) as object | null) {
        if (own(t, property, false)?.has(key)) return true;
      }
      return false;
    },
    defineMetadata(key, value, target, property) {
      own(target, property, true)!.set(key, value);
    },
    metadata: (key, value) => (target, property) => {
      own(target, property, true)!.set(key, value);
    },
  };
  Object.assign(Reflect, api);
}
