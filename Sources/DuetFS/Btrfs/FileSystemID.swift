/// A btrfs file system UUID (`fsid`), as `FS_INFO` reports it and `/sys/fs/btrfs/<fsid>` names it.
public struct FileSystemID: Hashable, Sendable, Codable, CustomStringConvertible {
    public let bytes: [UInt8]

    public init(bytes: [UInt8]) {
        precondition(bytes.count == 16, "a btrfs fsid has 16 bytes")
        self.bytes = bytes
    }

    /// Parses the canonical `8-4-4-4-12` text form.
    public init?(_ text: String) {
        let hex = text.filter { $0 != "-" }
        guard hex.count == 32 else { return nil }
        var out: [UInt8] = []
        var index = hex.startIndex
        while index < hex.endIndex {
            let next = hex.index(index, offsetBy: 2)
            guard let byte = UInt8(hex[index..<next], radix: 16) else { return nil }
            out.append(byte)
            index = next
        }
        self.init(bytes: out)
    }

    public var description: String { UUIDText.format(bytes) }

    public init(from decoder: Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let parsed = FileSystemID(text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "not a UUID: \(text)"))
        }
        self = parsed
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}

/// The `8-4-4-4-12` lowercase text form btrfs-progs prints for every UUID.
public enum UUIDText {
    public static func format(_ bytes: [UInt8]) -> String {
        let hex = bytes.map { byte -> String in
            let digits = String(byte, radix: 16)
            return digits.count == 1 ? "0" + digits : digits
        }
        var text = ""
        for (i, pair) in hex.enumerated() {
            if i == 4 || i == 6 || i == 8 || i == 10 { text += "-" }
            text += pair
        }
        return text
    }

    public static func isNil(_ bytes: [UInt8]) -> Bool { bytes.allSatisfy { $0 == 0 } }
}
