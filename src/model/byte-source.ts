/**
 * Random-access bytes: a file on disk in Node, a `Blob`/`File` in the browser, or memory in tests.
 * Checkpoints are read through this by byte range so that opening an 8B/70B model never pulls the
 * whole file into the JS heap.
 */
export interface ByteSource {
  /** Name used in error messages (a file path or URL). */
  readonly name: string;
  /** Total size in bytes. */
  readonly sizeBytes: number;
  /** Reads exactly `lengthBytes` bytes starting at `offsetBytes`; rejects if the range passes the end. */
  read(offsetBytes: number, lengthBytes: number): Promise<Uint8Array>;
  close(): Promise<void>;
}

/**
 * A directory of files (a Hugging Face checkpoint). Node implements it over the file system,
 * browsers over a `FileSystemDirectoryHandle` or fetched URLs.
 */
export interface FileTree {
  /** Where the files live, for error messages. */
  readonly location: string;
  exists(relativePath: string): Promise<boolean>;
  /** Reads a whole small file (config, tokenizer) as UTF-8. */
  readText(relativePath: string): Promise<string>;
  open(relativePath: string): Promise<ByteSource>;
}

/** A ByteSource over bytes already in memory (tests, browser uploads). */
export class MemoryByteSource implements ByteSource {
  readonly sizeBytes: number;
  constructor(
    readonly name: string,
    private readonly bytes: Uint8Array,
  ) {
    this.sizeBytes = bytes.byteLength;
  }

  async read(offsetBytes: number, lengthBytes: number): Promise<Uint8Array> {
    if (offsetBytes < 0 || lengthBytes < 0 || offsetBytes + lengthBytes > this.sizeBytes) {
      throw new RangeError(`${this.name}: read of ${lengthBytes} bytes at ${offsetBytes} passes the end (${this.sizeBytes} bytes)`);
    }
    return this.bytes.subarray(offsetBytes, offsetBytes + lengthBytes);
  }

  async close(): Promise<void> {}
}

/** A FileTree over in-memory files, for tests and browsers. */
export class MemoryFileTree implements FileTree {
  constructor(
    readonly location: string,
    private readonly files: Map<string, Uint8Array>,
  ) {}

  async exists(relativePath: string): Promise<boolean> {
    return this.files.has(relativePath);
  }

  async readText(relativePath: string): Promise<string> {
    return new TextDecoder().decode(this.get(relativePath));
  }

  async open(relativePath: string): Promise<ByteSource> {
    return new MemoryByteSource(`${this.location}/${relativePath}`, this.get(relativePath));
  }

  private get(relativePath: string): Uint8Array {
    const bytes = this.files.get(relativePath);
    if (!bytes) throw new Error(`${this.location}/${relativePath}: no such file`);
    return bytes;
  }
}
