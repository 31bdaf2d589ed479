import { Option } from "commander";
import { SETTINGS, type Setting, type SettingName } from "../manager/config.js";

/**
 * The commander option of a setting, from its one declaration: the flag, the help line
 * with its environment variable and default, and its choices. The option has no default
 * of its own, so an absent flag stays undefined and resolveRunConfig can tell it apart
 * from one given explicitly (flags win over the environment).
 */
export function settingOption(name: SettingName): Option {
  const setting: Setting = SETTINGS[name];
  if (!setting.flag) throw new Error(`setting ${name} has no flag`);
  const option = new Option(
    setting.flag,
    `${setting.description} (env ${setting.env}, default ${defaultText(setting)})`,
  );
  if (setting.choices) option.choices(setting.choices);
  // `--leader-elect` alone means true.
  if (setting.flag.includes("[")) option.preset("true");
  return option;
}

/** The default as help and the README print it. */
export function defaultText(setting: Setting): string {
  return setting.defaultText ?? (setting.default === "" ? "unset" : setting.default);
}

/** The settings of one scope that have a flag, in declaration order. */
export function flagsOf(scope: Setting["scope"]): SettingName[] {
  return (Object.keys(SETTINGS) as SettingName[]).filter((name) => {
    const setting: Setting = SETTINGS[name];
    return setting.scope === scope && setting.flag !== undefined;
  });
}
