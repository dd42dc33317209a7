using System.CommandLine;
using System.Globalization;
using DeepTrain.Data;

namespace DeepTrain.Cli.Commands;

/// <summary>
/// <c>deeptrain train</c>'s augmentation options beyond <c>--augment</c> (crop and flip): colour jitter,
/// rotation, translation, random erasing and CutMix. The ranges are checked by
/// <see cref="AugmentationOptions.Validate"/> when the loader sees the data (saturation needs RGB).
/// </summary>
internal sealed class AugmentationCliOptions
{
    public Option<string?> ColorJitter { get; } = new("--color-jitter")
    {
        Description = "Colour jitter B,C,S as torchvision's ColorJitter(brightness=B, contrast=C, saturation=S): factors uniform in [max(0,1-x), 1+x], random order per image; each ≥ 0 (0: off); saturation needs RGB data",
    };

    public Option<float> Rotate { get; } = new("--rotate")
    {
        Description = $"Random rotation uniform in ±DEG degrees, DEG in [0, {AugmentationOptions.MaxDegrees}] (torchvision RandomAffine, bilinear, zero fill)",
        DefaultValueFactory = _ => 0f,
    };

    public Option<float> Translate { get; } = new("--translate")
    {
        Description = "Random translation by up to F of the width and height, F in [0, 1], whole pixels (torchvision RandomAffine translate=(F, F))",
        DefaultValueFactory = _ => 0f,
    };

    public Option<float> RandomErasing { get; } = new("--random-erasing")
    {
        Description = "Random erasing with probability P in [0, 1] after normalisation (torchvision RandomErasing: scale 0.02-0.33, ratio 0.3-3.3, value 0)",
        DefaultValueFactory = _ => 0f,
    };

    public Option<string?> CutMix { get; } = new("--cutmix")
    {
        Description = "CutMix ALPHA[,P]: with probability P (default 1) per batch, λ ~ Beta(ALPHA, ALPHA), a box from a permuted image is pasted and the loss is λ·CE(y) + (1-λ)·CE(y_perm); ALPHA > 0, P in [0, 1]",
    };

    /// <summary>Adds every option to <paramref name="command"/>.</summary>
    public void AddTo(Command command)
    {
        command.Options.Add(ColorJitter);
        command.Options.Add(Rotate);
        command.Options.Add(Translate);
        command.Options.Add(RandomErasing);
        command.Options.Add(CutMix);
    }

    /// <summary>The augmentation these options and <c>--augment</c> ask for, or null for none.</summary>
    /// <exception cref="FormatException">--color-jitter or --cutmix is not a list of numbers of the right length.</exception>
    public AugmentationOptions? Build(ParseResult result, bool augment)
    {
        float[] jitter = ParseList(result.GetValue(ColorJitter), "--color-jitter", "B,C,S", 3, 3) ?? [0f, 0f, 0f];
        float[] cutmix = ParseList(result.GetValue(CutMix), "--cutmix", "ALPHA[,P]", 1, 2) ?? [0f];
        var options = new AugmentationOptions
        {
            Padding = augment ? AugmentationOptions.Standard.Padding : 0,
            HorizontalFlip = augment,
            Brightness = jitter[0],
            Contrast = jitter[1],
            Saturation = jitter[2],
            Degrees = result.GetValue(Rotate),
            Translate = result.GetValue(Translate),
            ErasingProbability = result.GetValue(RandomErasing),
            CutMixAlpha = cutmix[0],
            CutMixProbability = cutmix.Length > 1 ? cutmix[1] : 1f,
        };
        if (result.GetValue(CutMix) is not null && !(cutmix[0] > 0))
            throw new ArgumentException($"--cutmix: ALPHA must be > 0, got {cutmix[0]}");
        bool any = augment || result.GetValue(ColorJitter) is not null || result.GetValue(CutMix) is not null
            || options.Degrees != 0 || options.Translate != 0 || options.ErasingProbability != 0;
        return any ? options : null;   // out-of-range values reach the loader, whose check names the option
    }

    /// <summary>Parses "a,b,…" with between <paramref name="min"/> and <paramref name="max"/> invariant-culture numbers.</summary>
    private static float[]? ParseList(string? text, string option, string form, int min, int max)
    {
        if (text is null) return null;
        var parts = text.Split(',', StringSplitOptions.TrimEntries);
        var values = new float[parts.Length];
        if (parts.Length < min || parts.Length > max
            || parts.Where((p, i) => !float.TryParse(p, NumberStyles.Float, CultureInfo.InvariantCulture, out values[i])).Any())
            throw new FormatException($"{option} '{text}' is not valid: expected {form} (numbers separated by commas, e.g. {(max == 3 ? "0.4,0.4,0.4" : "1.0,0.5")})");
        return values;
    }
}
