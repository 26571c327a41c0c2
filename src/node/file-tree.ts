import { open, readFile, stat, type FileHandle } from "node:fs/promises";
import { join } from "node:path";
import type { ByteSource, FileTree } from "../model/byte-source.js";
import { SwallowError } from "../errors.js";

/** A file on disk read by byte range (positioned reads; nothing is mapped into the JS heap). */
export class NodeFileSource implements ByteSource {
  private constructor(
    readonly name: string,
    readonly sizeBytes: number,
    private readonly handle: FileHandle,
  ) {}

  static async open(path: string): Promise<NodeFileSource> {
    let handle: FileHandle;
    try {
      handle = await open(path, "r");
    } catch (error) {
      throw new SwallowError(`${path}: cannot open (${(error as NodeJS.ErrnoException).code ?? String(error)}); check the path`);
    }
    const { size } = await handle.stat();
    return new NodeFileSource(path, size, handle);
  }

  async read(offsetBytes: number, lengthBytes: number): Promise<Uint8Array> {
    if (offsetBytes < 0 || lengthBytes < 0 || offsetBytes + lengthBytes > this.sizeBytes) {
      throw new SwallowError(
        `${this.name}: read of ${lengthBytes} bytes at offset ${offsetBytes} passes the end of the file (${this.sizeBytes} bytes); the file is truncated or corrupt, download it again`,
      );
    }
    const out = new Uint8Array(lengthBytes);
    let done = 0;
    while (done < lengthBytes) {
      const { bytesRead } = await this.handle.read(out, done, lengthBytes - done, offsetBytes + done);
      if (bytesRead === 0) throw new SwallowError(`${this.name}: file shrank while reading; download it again`);
      done += bytesRead;
    }
    return out;
  }

  async close(): Promise<void> {
    await this.handle.close();
  }
}

/** A checkpoint directory on disk. */
export class NodeFileTree implements FileTree {
  constructor(readonly location: string) {}

  async exists(relativePath: string): Promise<boolean> {
    try {
      return (await stat(join(this.location, relativePath))).isFile();
    } catch {
      return false;
    }
  }

  async readText(relativePath: string): Promise<string> {
    const path = join(this.location, relativePath);
    try {
      return await readFile(path, "utf8");
    } catch (error) {
      throw new SwallowError(`${path}: cannot read (${(error as NodeJS.ErrnoException).code ?? String(error)}); check the model directory`);
    }
  }

  open(relativePath: string): Promise<ByteSource> {
    return NodeFileSource.open(join(this.location, relativePath));
  }
}
