using System.Buffers.Binary;

namespace SignalStream.LoadTests.Clients;

/// <summary>
/// Just enough of MessagePack (the spec's formats, read from a span) for the load client to pick seq, symbol and a time
/// out of a hub record without allocating: headers of arrays and maps, integers, strings as UTF-8 spans, and skipping
/// any value. A format it cannot read throws <see cref="FormatException"/>.
/// </summary>
internal ref struct MessagePackSpanReader(ReadOnlySpan<byte> data)
{
    private readonly ReadOnlySpan<byte> _data = data;
    private int _at;

    public bool End => _at >= _data.Length;

    public bool TryReadNil()
    {
        if (_at < _data.Length && _data[_at] == 0xc0)
        {
            _at++;
            return true;
        }

        return false;
    }

    public int ReadArrayHeader()
    {
        var code = Next();
        return code switch
        {
            >= 0x90 and <= 0x9f => code & 0x0f,
            0xdc => BinaryPrimitives.ReadUInt16BigEndian(Take(2)),
            0xdd => checked((int)BinaryPrimitives.ReadUInt32BigEndian(Take(4))),
            _ => throw Unexpected(code, "an array"),
        };
    }

    public int ReadMapHeader()
    {
        var code = Next();
        return code switch
        {
            >= 0x80 and <= 0x8f => code & 0x0f,
            0xde => BinaryPrimitives.ReadUInt16BigEndian(Take(2)),
            0xdf => checked((int)BinaryPrimitives.ReadUInt32BigEndian(Take(4))),
            _ => throw Unexpected(code, "a map"),
        };
    }

    public long ReadInt64()
    {
        var code = Next();
        return code switch
        {
            <= 0x7f => code,
            >= 0xe0 => (sbyte)code,
            0xcc => Take(1)[0],
            0xcd => BinaryPrimitives.ReadUInt16BigEndian(Take(2)),
            0xce => BinaryPrimitives.ReadUInt32BigEndian(Take(4)),
            0xcf => checked((long)BinaryPrimitives.ReadUInt64BigEndian(Take(8))),
            0xd0 => (sbyte)Take(1)[0],
            0xd1 => BinaryPrimitives.ReadInt16BigEndian(Take(2)),
            0xd2 => BinaryPrimitives.ReadInt32BigEndian(Take(4)),
            0xd3 => BinaryPrimitives.ReadInt64BigEndian(Take(8)),
            _ => throw Unexpected(code, "an integer"),
        };
    }

    public bool ReadBoolean() => Next() switch
    {
        0xc2 => false,
        0xc3 => true,
        var code => throw Unexpected(code, "a boolean"),
    };

    /// <summary>A string's UTF-8 bytes, where they lie.</summary>
    public ReadOnlySpan<byte> ReadString()
    {
        var code = Next();
        var length = code switch
        {
            >= 0xa0 and <= 0xbf => code & 0x1f,
            0xd9 => Take(1)[0],
            0xda => BinaryPrimitives.ReadUInt16BigEndian(Take(2)),
            0xdb => checked((int)BinaryPrimitives.ReadUInt32BigEndian(Take(4))),
            _ => throw Unexpected(code, "a string"),
        };
        return Take(length);
    }

    /// <summary>Steps over one value of any type, with everything nested in it.</summary>
    public void Skip()
    {
        var code = Next();
        switch (code)
        {
            case <= 0x7f or >= 0xe0 or 0xc0 or 0xc2 or 0xc3:
                return;
            case >= 0x80 and <= 0x8f:
                SkipItems((code & 0x0f) * 2);
                return;
            case >= 0x90 and <= 0x9f:
                SkipItems(code & 0x0f);
                return;
            case >= 0xa0 and <= 0xbf:
                Take(code & 0x1f);
                return;
            case 0xcc or 0xd0:
                Take(1);
                return;
            case 0xcd or 0xd1:
                Take(2);
                return;
            case 0xce or 0xd2 or 0xca:
                Take(4);
                return;
            case 0xcf or 0xd3 or 0xcb:
                Take(8);
                return;
            case 0xc4 or 0xd9:
                Take(Take(1)[0]);
                return;
            case 0xc5 or 0xda:
                Take(BinaryPrimitives.ReadUInt16BigEndian(Take(2)));
                return;
            case 0xc6 or 0xdb:
                Take(checked((int)BinaryPrimitives.ReadUInt32BigEndian(Take(4))));
                return;
            case 0xdc:
                SkipItems(BinaryPrimitives.ReadUInt16BigEndian(Take(2)));
                return;
            case 0xdd:
                SkipItems(checked((int)BinaryPrimitives.ReadUInt32BigEndian(Take(4))));
                return;
            case 0xde:
                SkipItems(BinaryPrimitives.ReadUInt16BigEndian(Take(2)) * 2);
                return;
            case 0xdf:
                SkipItems(checked((int)BinaryPrimitives.ReadUInt32BigEndian(Take(4)) * 2));
                return;
            case 0xd4:
                Take(2);
                return;
            case 0xd5:
                Take(3);
                return;
            case 0xd6:
                Take(5);
                return;
            case 0xd7:
                Take(9);
                return;
            case 0xd8:
                Take(17);
                return;
            case 0xc7:
                Take(Take(1)[0] + 1);
                return;
            case 0xc8:
                Take(BinaryPrimitives.ReadUInt16BigEndian(Take(2)) + 1);
                return;
            case 0xc9:
                Take(checked((int)BinaryPrimitives.ReadUInt32BigEndian(Take(4)) + 1));
                return;
            default:
                throw Unexpected(code, "a value");
        }
    }

    private void SkipItems(int count)
    {
        for (var i = 0; i < count; i++)
        {
            Skip();
        }
    }

    private byte Next() => _at < _data.Length ? _data[_at++] : throw new FormatException("the MessagePack record ended early");

    private ReadOnlySpan<byte> Take(int count)
    {
        if (count < 0 || _at + count > _data.Length)
        {
            throw new FormatException("the MessagePack record ended early");
        }

        var taken = _data.Slice(_at, count);
        _at += count;
        return taken;
    }

    private static FormatException Unexpected(byte code, string expected) => new($"MessagePack code 0x{code:x2} where {expected} was expected");
}
