import type { Command, Option } from "commander";
import { KINDS } from "../api/resources.js";

export const SHELLS = ["bash", "zsh", "fish"] as const;
export type Shell = (typeof SHELLS)[number];

/** What `steward __complete` prints, alone, when the shell should complete a file name. */
export const FILES = ":files";

/** The hidden command the shell scripts call with the words typed so far. */
export const COMPLETE_COMMAND = "__complete";

/** Option values completed without asking the option (it has no choices of its own). */
const VALUES: Readonly<Record<string, readonly string[]>> = {
  "--output": ["wide", "yaml", "json", "name"],
  "--filename": [FILES],
  "--state-dir": [FILES],
};

const TYPE_NAMES: readonly string[] = [
  ...new Set(Object.values(KINDS).flatMap((k) => [k.plural, k.singular, ...k.shortNames])),
];

/**
 * The candidates for the last of `words` (the word being typed, "" after a space), from the
 * program's own commands, options and choices, so completion cannot drift from the CLI.
 * Pure. Global options are recognised anywhere, as commander does; `-f`/`--state-dir`
 * answer FILES (the shell completes paths); an argument with choices gets them, and a
 * command whose first argument is a resource type gets the type names.
 */
export function complete(program: Command, words: readonly string[]): string[] {
  const current = words.at(-1) ?? "";
  const before = words.slice(0, -1);
  const { command, positionals, pendingOption } = walk(program, before);
  const matching = (candidates: readonly string[]): string[] =>
    candidates.includes(FILES) ? [FILES] : candidates.filter((c) => c.startsWith(current));
  if (pendingOption) return matching(valuesOf(pendingOption));
  if (current.startsWith("-")) return matching(optionNames(command, program));
  return matching(positionalCandidates(command, positionals.length));
}

/** Subcommands where a command has them, else the choices of the argument at `index`. */
function positionalCandidates(command: Command, index: number): readonly string[] {
  const subcommands = command.commands.filter((c) => !hidden(c)).map((c) => c.name());
  if (subcommands.length > 0 && index === 0) return subcommands;
  const argument = command.registeredArguments[index];
  if (argument?.argChoices) return argument.argChoices;
  return index === 0 && argument?.name() === "type" ? TYPE_NAMES : [];
}

interface Walked {
  command: Command;
  positionals: string[];
  /** The option whose value is being typed. */
  pendingOption?: Option;
}

/** Follows the typed words down the command tree, skipping options and their values. */
function walk(program: Command, words: readonly string[]): Walked {
  let command = program;
  const positionals: string[] = [];
  for (let i = 0; i < words.length; i++) {
    const word = words[i] ?? "";
    if (word.startsWith("-")) {
      const option = findOption(command, program, word);
      if (option?.required && !word.includes("=")) {
        if (i === words.length - 1) return { command, positionals, pendingOption: option };
        i++;
      }
      continue;
    }
    const sub = positionals.length === 0 ? command.commands.find((c) => c.name() === word) : undefined;
    if (sub) command = sub;
    else positionals.push(word);
  }
  return { command, positionals };
}

function findOption(command: Command, program: Command, flag: string): Option | undefined {
  const name = flag.split("=")[0];
  return [...command.options, ...program.options].find((o) => o.long === name || o.short === name);
}

function optionNames(command: Command, program: Command): string[] {
  const options = command === program ? program.options : [...command.options, ...program.options];
  return [...options.flatMap((o) => [o.long, o.short].filter((f) => f !== undefined)), "--help"];
}

function valuesOf(option: Option): readonly string[] {
  return option.argChoices ?? VALUES[option.long ?? ""] ?? [];
}

function hidden(command: Command): boolean {
  return command.name() === COMPLETE_COMMAND;
}

/**
 * The script `steward completion SHELL` prints. Each asks `steward __complete -- WORDS…`
 * for candidates, so the logic lives (and is tested) once, in complete().
 */
export function completionScript(shell: Shell): string {
  return SCRIPTS[shell];
}

const SCRIPTS: Record<Shell, string> = {
  bash: `# bash completion for steward. Load it with: source <(steward completion bash)
# or install it: steward completion bash > /etc/bash_completion.d/steward
_steward() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" IFS=$'\\n'
  local -a candidates
  candidates=($(steward ${COMPLETE_COMMAND} -- "\${COMP_WORDS[@]:1:COMP_CWORD}" 2>/dev/null))
  if [[ "\${candidates[0]}" == "${FILES}" ]]; then
    compopt -o filenames 2>/dev/null
    COMPREPLY=($(compgen -f -- "$cur"))
  else
    COMPREPLY=("\${candidates[@]}")
  fi
}
complete -F _steward steward
`,
  zsh: `#compdef steward
# zsh completion for steward. Install it: steward completion zsh > "\${fpath[1]}/_steward"
# or, after compinit, load it: source <(steward completion zsh)
_steward() {
  local -a candidates
  candidates=("\${(@f)$(steward ${COMPLETE_COMMAND} -- "\${(@)words[2,CURRENT]}" 2>/dev/null)}")
  candidates=(\${candidates:#})
  if [[ "\${candidates[1]}" == "${FILES}" ]]; then
    _files
  else
    compadd -- "\${candidates[@]}"
  fi
}
if [[ "\${funcstack[1]}" == "_steward" ]]; then
  _steward "$@"
else
  compdef _steward steward
fi
`,
  fish: `# fish completion for steward. Load it with: steward completion fish | source
# or install it: steward completion fish > ~/.config/fish/completions/steward.fish
function __steward_complete
    set -l words (commandline -opc)
    set -e words[1]
    set -l candidates (steward ${COMPLETE_COMMAND} -- $words (commandline -ct) 2>/dev/null)
    if test "$candidates[1]" = "${FILES}"
        __fish_complete_path (commandline -ct)
    else
        printf '%s\\n' $candidates
    end
end
complete -c steward -f -a '(__steward_complete)'
`,
};
