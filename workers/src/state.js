// wasi:keyvalue/store@0.2.0-draft2 on Workers KV and wasi:config/store@0.2.0-draft-2024-09-27 on
// the Worker's `env` (vars and secrets).
//
// Both read the environment of the request being served: `slot.env` is set before each call into
// the component (an instance serves one request at a time).

const symbolDispose = Symbol.dispose || Symbol.for("dispose");

/** The KV binding behind a store identifier: "default" is APEX_KV, "x" is APEX_KV_X. */
export function kvBindingName(identifier) {
  return identifier === "default" ? "APEX_KV" : `APEX_KV_${identifier.toUpperCase().replace(/[^A-Z0-9]/g, "_")}`;
}

function failure(error) {
  return { tag: "other", val: error instanceof Error ? error.message : String(error) };
}

// Workers KV refuses empty keys, "." and "..", and keys over 512 bytes.
function checkKey(key) {
  if (key === "" || key === "." || key === ".." || new TextEncoder().encode(key).byteLength > 512) {
    throw { tag: "other", val: `key not storable in Workers KV: ${JSON.stringify(key.slice(0, 64))}` };
  }
}

export function keyvalue(slot) {
  class Bucket {
    #kv;
    constructor(kv) {
      this.#kv = kv;
    }
    async get(key) {
      checkKey(key);
      try {
        const value = await this.#kv.get(key, { type: "arrayBuffer" });
        return value === null ? undefined : new Uint8Array(value);
      } catch (error) {
        throw failure(error);
      }
    }
    async set(key, value) {
      checkKey(key);
      try {
        await this.#kv.put(key, value);
      } catch (error) {
        throw failure(error);
      }
    }
    async delete(key) {
      checkKey(key);
      try {
        await this.#kv.delete(key);
      } catch (error) {
        throw failure(error);
      }
    }
    async exists(key) {
      return (await this.get(key)) !== undefined;
    }
    async listKeys(cursor) {
      try {
        const page = await this.#kv.list(cursor === undefined ? {} : { cursor });
        return { keys: page.keys.map((k) => k.name), cursor: page.list_complete ? undefined : page.cursor };
      } catch (error) {
        throw failure(error);
      }
    }
    [symbolDispose]() {}
  }

  return {
    Bucket,
    open(identifier) {
      const kv = slot.env?.[kvBindingName(identifier)];
      if (!kv || typeof kv.get !== "function") throw { tag: "no-such-store" };
      return new Bucket(kv);
    },
  };
}

/**
 * wasi:keyvalue/atomics@0.2.0-draft2 on Workers KV: `increment` reads and writes the counter as
 * decimal text. Workers KV has no atomic counters (and is eventually consistent across
 * locations), so two isolates counting the same entry at once may lose a count: the bound the
 * README states for per-key limits. Compare-and-swap is not offered.
 */
export function atomics() {
  const noCas = () => ({ tag: "other", val: "compare-and-swap is not offered on Workers KV" });
  class Cas {
    constructor() {
      throw noCas();
    }
    static new() {
      throw noCas();
    }
    current() {
      throw noCas();
    }
    [symbolDispose]() {}
  }
  return {
    Cas,
    async increment(bucket, key, delta) {
      const bytes = await bucket.get(key);
      let current = 0n;
      if (bytes !== undefined) {
        const text = new TextDecoder().decode(bytes).trim();
        if (!/^-?[0-9]+$/.test(text)) throw { tag: "other", val: `${key} holds no counter` };
        current = BigInt(text);
      }
      const next = current + BigInt(delta);
      await bucket.set(key, new TextEncoder().encode(next.toString()));
      return next;
    },
    swap() {
      throw { tag: "store-error", val: noCas() };
    },
  };
}

/**
 * Config names are lowercase (`apex_config`, `openai_api_key`: Spin's variable names). A Worker
 * var or secret of that name answers; so does its uppercase form (`OPENAI_API_KEY`), the usual
 * spelling of secrets. Only string values count (KV bindings and JSON vars are not config).
 */
export function config(slot) {
  const lookup = (key) => {
    const env = slot.env ?? {};
    for (const name of [key, key.toUpperCase()]) {
      if (typeof env[name] === "string") return env[name];
    }
    return undefined;
  };
  return {
    get: lookup,
    getAll() {
      const env = slot.env ?? {};
      return Object.keys(env).filter((k) => typeof env[k] === "string").map((k) => [k.toLowerCase(), env[k]]);
    },
  };
}
