using System.Globalization;
using System.Text;

namespace SignalStream.Hub.Tests.Observability;

/// <summary>One sample line of the exposition.</summary>
internal sealed record Sample(string Name, IReadOnlyDictionary<string, string> Labels, double Value)
{
    public string Label(string name) => Labels.TryGetValue(name, out var value) ? value : "";
}

/// <summary>A family as declared by its HELP/TYPE lines, with its samples.</summary>
internal sealed class Family(string name)
{
    public string Name { get; } = name;

    public string? Help { get; set; }

    public string? Type { get; set; }

    public List<Sample> Samples { get; } = [];
}

/// <summary>
/// A strict reader of the text exposition format 0.0.4 (https://prometheus.io/docs/instrumenting/exposition_formats/),
/// used to check our writer independently of promtool: one HELP and TYPE per family before its samples, samples of
/// a family together, label escapes, no duplicate series, histogram buckets cumulative with +Inf equal to _count.
/// </summary>
internal static class ExpositionParser
{
    public static IReadOnlyDictionary<string, Family> Parse(string text)
    {
        if (text.Length > 0 && !text.EndsWith('\n'))
        {
            throw new FormatException("the exposition must end with a line feed");
        }

        var families = new Dictionary<string, Family>(StringComparer.Ordinal);
        var seenSeries = new HashSet<string>(StringComparer.Ordinal);
        var finished = new HashSet<string>(StringComparer.Ordinal);
        Family? current = null;
        var lineNumber = 0;
        foreach (var line in text[..^1].Split('\n'))
        {
            lineNumber++;
            try
            {
                if (line.StartsWith("# HELP ", StringComparison.Ordinal) || line.StartsWith("# TYPE ", StringComparison.Ordinal))
                {
                    var rest = line[7..];
                    var space = rest.IndexOf(' ', StringComparison.Ordinal);
                    var name = space < 0 ? rest : rest[..space];
                    var value = space < 0 ? "" : rest[(space + 1)..];
                    RequireMetricName(name);
                    var family = Enter(name);
                    if (family.Samples.Count > 0)
                    {
                        throw new FormatException($"{line[2..6]} for {name} after its samples");
                    }

                    if (line[2] == 'H')
                    {
                        if (family.Help is not null)
                        {
                            throw new FormatException($"second HELP for {name}");
                        }

                        family.Help = UnescapeHelp(value);
                    }
                    else
                    {
                        if (family.Type is not null)
                        {
                            throw new FormatException($"second TYPE for {name}");
                        }

                        if (value is not ("counter" or "gauge" or "histogram" or "summary" or "untyped"))
                        {
                            throw new FormatException($"unknown type '{value}'");
                        }

                        family.Type = value;
                    }

                    continue;
                }

                if (line.StartsWith('#') || line.Length == 0)
                {
                    continue;
                }

                var sample = ParseSample(line);
                var familyName = FamilyOf(sample.Name, families);
                var owner = Enter(familyName);
                var key = sample.Name + "{" + string.Join(",", sample.Labels.OrderBy(l => l.Key, StringComparer.Ordinal).Select(l => l.Key + "=" + l.Value)) + "}";
                if (!seenSeries.Add(key))
                {
                    throw new FormatException($"duplicate series {key}");
                }

                owner.Samples.Add(sample);
            }
            catch (FormatException e)
            {
                throw new FormatException($"line {lineNumber}: {e.Message}: {line}", e);
            }
        }

        foreach (var family in families.Values)
        {
            if (family.Type == "histogram")
            {
                CheckHistogram(family);
            }
        }

        return families;

        Family Enter(string name)
        {
            if (current?.Name == name)
            {
                return current;
            }

            if (current is not null)
            {
                finished.Add(current.Name);
            }

            if (finished.Contains(name))
            {
                throw new FormatException($"lines of {name} are not together");
            }

            if (!families.TryGetValue(name, out var family))
            {
                family = new Family(name);
                families.Add(name, family);
            }

            current = family;
            return family;
        }
    }

    private static string FamilyOf(string sampleName, Dictionary<string, Family> families)
    {
        foreach (var suffix in new[] { "_bucket", "_sum", "_count" })
        {
            if (sampleName.EndsWith(suffix, StringComparison.Ordinal)
                && families.TryGetValue(sampleName[..^suffix.Length], out var family)
                && family.Type is "histogram" or "summary")
            {
                return family.Name;
            }
        }

        return sampleName;
    }

    private static void CheckHistogram(Family family)
    {
        foreach (var group in family.Samples.GroupBy(s => string.Join(",", s.Labels.Where(l => l.Key != "le").OrderBy(l => l.Key, StringComparer.Ordinal).Select(l => l.Key + "=" + l.Value))))
        {
            var buckets = group.Where(s => s.Name == family.Name + "_bucket").ToList();
            var count = group.Single(s => s.Name == family.Name + "_count").Value;
            _ = group.Single(s => s.Name == family.Name + "_sum");
            if (buckets.Count == 0 || buckets[^1].Label("le") != "+Inf")
            {
                throw new FormatException($"{family.Name}{{{group.Key}}} has no +Inf bucket last");
            }

            var previousBound = double.NegativeInfinity;
            var previousCount = 0.0;
            foreach (var bucket in buckets)
            {
                var bound = ParseValue(bucket.Label("le"));
                if (bound <= previousBound || bucket.Value < previousCount)
                {
                    throw new FormatException($"{family.Name}{{{group.Key}}} buckets are not increasing and cumulative at le={bucket.Label("le")}");
                }

                previousBound = bound;
                previousCount = bucket.Value;
            }

            if (!previousCount.Equals(count))
            {
                throw new FormatException($"{family.Name}{{{group.Key}}}: +Inf bucket {previousCount} != _count {count}");
            }
        }
    }

    private static Sample ParseSample(string line)
    {
        var i = 0;
        while (i < line.Length && line[i] != '{' && line[i] != ' ')
        {
            i++;
        }

        var name = line[..i];
        RequireMetricName(name);
        var labels = new Dictionary<string, string>(StringComparer.Ordinal);
        if (i < line.Length && line[i] == '{')
        {
            i++;
            while (line[i] != '}')
            {
                var start = i;
                while (line[i] != '=')
                {
                    i++;
                }

                var label = line[start..i];
                if (!IsLabelName(label))
                {
                    throw new FormatException($"bad label name '{label}'");
                }

                i++;
                if (line[i] != '"')
                {
                    throw new FormatException("label value must be quoted");
                }

                i++;
                var value = new StringBuilder();
                while (line[i] != '"')
                {
                    if (line[i] == '\\')
                    {
                        i++;
                        value.Append(line[i] switch
                        {
                            '\\' => '\\',
                            '"' => '"',
                            'n' => '\n',
                            _ => throw new FormatException($"bad escape \\{line[i]}"),
                        });
                    }
                    else
                    {
                        value.Append(line[i]);
                    }

                    i++;
                }

                i++;
                if (!labels.TryAdd(label, value.ToString()))
                {
                    throw new FormatException($"label {label} twice");
                }

                if (line[i] == ',')
                {
                    i++;
                }
                else if (line[i] != '}')
                {
                    throw new FormatException("expected ',' or '}'");
                }
            }

            i++;
        }

        if (i >= line.Length || line[i] != ' ')
        {
            throw new FormatException("expected a space before the value");
        }

        var fields = line[(i + 1)..].Split(' ');
        if (fields.Length is < 1 or > 2)
        {
            throw new FormatException("expected 'value [timestamp]'");
        }

        return new Sample(name, labels, ParseValue(fields[0]));
    }

    public static double ParseValue(string text) => text switch
    {
        "+Inf" => double.PositiveInfinity,
        "-Inf" => double.NegativeInfinity,
        "NaN" => double.NaN,
        _ => double.Parse(text, NumberStyles.Float, CultureInfo.InvariantCulture),
    };

    private static void RequireMetricName(string name)
    {
        if (name.Length == 0 || !(char.IsAsciiLetter(name[0]) || name[0] is '_' or ':') || !name.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or ':'))
        {
            throw new FormatException($"bad metric name '{name}'");
        }
    }

    private static bool IsLabelName(string name) =>
        name.Length > 0 && (char.IsAsciiLetter(name[0]) || name[0] == '_') && name.All(c => char.IsAsciiLetterOrDigit(c) || c == '_');

    private static string UnescapeHelp(string help) => help.Replace("\\n", "\n", StringComparison.Ordinal).Replace("\\\\", "\\", StringComparison.Ordinal);
}
