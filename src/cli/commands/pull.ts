import { SwallowError } from "../../errors.js";
import { TerminalReporter } from "../../hub/progress.js";
import { pullRepo } from "../../hub/pull.js";
import { parseRepoReference } from "../../hub/repo-id.js";
import { hubSettings } from "../../hub/settings.js";
import { parseCommandArgs } from "../args.js";
import { writeLine } from "../io.js";

const HELP = `usage: swallow pull REPO_ID[@REV] [--revision REV] [--include GLOB]... [--exclude GLOB]... [--token TOKEN]

Downloads a model repository from the Hugging Face Hub into the cache Python's huggingface_hub uses
($HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub) and prints the snapshot directory,
so \`swallow chat --model "$(swallow pull ORG/NAME)"\` works, as does \`--model ORG/NAME\` afterwards.
Files already in the cache are not downloaded again; interrupted downloads resume; LFS files are
checked against their sha256.

  --revision REV   branch, tag or commit (default main; also REPO_ID@REV)
  --include GLOB   download only matching files (repeatable; * also matches /), e.g. --include '*.json'
  --exclude GLOB   skip matching files (repeatable), e.g. --exclude 'original/*'
  --token TOKEN    access token for gated or private repositories (default $HF_TOKEN, else the token
                   file $HF_HOME/token written by \`huggingface-cli login\`)

Environment: HF_ENDPOINT (default https://huggingface.co), HF_HUB_OFFLINE=1 (no network: succeed only
if the snapshot is complete in the cache).`;

export async function runPull(argv: string[]): Promise<void> {
  const { values, positionals } = parseCommandArgs(
    "pull",
    argv,
    {
      revision: { type: "string" },
      include: { type: "string", multiple: true },
      exclude: { type: "string", multiple: true },
      token: { type: "string" },
    },
    true,
  );
  if (values.help) return void process.stdout.write(`${HELP}\n`);
  if (positionals.length !== 1) {
    throw new SwallowError(`expected one repository id (ORG/NAME), got ${positionals.length}; see \`swallow pull --help\``);
  }
  const [target] = positionals;
  const reference = parseRepoReference(target);
  if (!reference) {
    throw new SwallowError(
      `"${target}" is not a repository id; expected ORG/NAME or ORG/NAME@REV, e.g. tokyotech-llm/Llama-3.1-Swallow-8B-Instruct-v0.5`,
    );
  }
  if (reference.revision !== undefined && values.revision !== undefined && reference.revision !== values.revision) {
    throw new SwallowError(`${target} names revision ${reference.revision} but --revision says ${values.revision}; give one`);
  }
  const result = await pullRepo({
    repoId: reference.repoId,
    revision: values.revision ?? reference.revision,
    include: values.include ?? [],
    exclude: values.exclude ?? [],
    settings: hubSettings(process.env, { token: values.token }),
    reporter: new TerminalReporter(process.stderr),
  });
  await writeLine(result.snapshotDir);
}
