/**
 * The slice of the Reflect Metadata API that @peculiar/x509's dependency injection (tsyringe)
 * checks for at load time and calls while registering its algorithm providers.
 *
 * Why it exists: @peculiar/x509 2.x requires the host to install a Reflect polyfill
 * (reflect-metadata, core-js or @abraham/reflection) before it is loaded, and none is a project
 * dependency. tsyringe only uses define/get(Own)Metadata, and @peculiar/x509's injectables take
 * no constructor parameters, so a WeakMap-backed store is sufficient. A real polyfill that is
 * already installed is left untouched.
 */

type MetadataStore = Map<unknown, unknown>;

interface ReflectMetadataApi {
  defineMetadata(key: unknown, value: unknown, target: object, property?: PropertyKey): void;
  getOwnMetadata(key: unknown, target: object, property?: PropertyKey): unknown;
  getMetadata(key: unknown, target: object, property?: PropertyKey): unknown;
  hasOwnMetadata(key: unknown, target: object, property?: PropertyKey): boolean;
  hasMetadata(key: unknown, target: object, property?: PropertyKey): boolean;
}

function install(): void {
  const reflect = Reflect as unknown as Partial<ReflectMetadataApi>;
  if (typeof reflect.getMetadata === 'function') return;

  const stores = new WeakMap<object, Map<PropertyKey | undefined, MetadataStore>>();
  const own = (target: object, property: PropertyKey | undefined, create: boolean): MetadataStore | undefined => {
    let byProperty = stores.get(target);
    if (byProperty === undefined) {
      if (!create) return undefined;
      byProperty = new Map();
      stores.set(target, byProperty);
    }
    let store = byProperty.get(property);
    if (store === undefined && create) {
      store = new Map();
      byProperty.set(property, store);
    }
    return store;
  };
  // Metadata is inherited along the prototype chain, as in reflect-metadata's getMetadata.
  const find = (target: object, key: unknown, property: PropertyKey | undefined): MetadataStore | undefined => {
    for (let t: object | null = target; t !== null; t = Object.getPrototypeOf(t) as object | null) {
      const store = own(t, property, false);
      if (store?.has(key) === true) return store;
    }
    return undefined;
  };

  const api: ReflectMetadataApi = {
    defineMetadata: (key, value, target, property) => void own(target, property, true)?.set(key, value),
    getOwnMetadata: (key, target, property) => own(target, property, false)?.get(key),
    getMetadata: (key, target, property) => find(target, key, property)?.get(key),
    hasOwnMetadata: (key, target, property) => own(target, property, false)?.has(key) === true,
    hasMetadata: (key, target, property) => find(target, key, property) !== undefined,
  };
  for (const [name, fn] of Object.entries(api)) {
    Object.defineProperty(Reflect, name, { value: fn, writable: true, configurable: true, enumerable: false });
  }
}

install();
