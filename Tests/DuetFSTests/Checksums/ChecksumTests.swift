import CDuet
import DuetFS
import Testing

@Suite struct ChecksumTests {
    static func hex(_ bytes: [UInt8]) -> String { bytes.map { $0 < 16 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined() }

    // Published vectors: CRC-32C check value (RFC 3720 / iSCSI), XXH64 and SHA-256 of "abc",
    // BLAKE2b-256 of "abc" and of the empty string (RFC 7693 parameters, 32-byte output).
    @Test func knownVectors() {
        #expect(Self.hex(Checksummer(.crc32c).digest(Array("123456789".utf8))) == "839206e3")  // 0xE3069283, little-endian
        #expect(Self.hex(Checksummer(.xxhash64).digest([])) == "99e9d85137db46ef")  // 0xEF46DB3751D8E999
        #expect(Self.hex(Checksummer(.xxhash64).digest(Array("abc".utf8))) == "990977adf52cbc44")  // 0x44BC2CF5AD770999
        #expect(
            Self.hex(Checksummer(.sha256).digest(Array("abc".utf8))) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(
            Self.hex(Checksummer(.blake2b).digest(Array("abc".utf8))) == "bddd813c634239723171ef3fee98579b94964e3bb1cb3e427262c8c068d52319")
        #expect(Self.hex(Checksummer(.blake2b).digest([])) == "0e5751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45cdf12fe3a8")
    }

    @Test func sizesMatchBtrfs() {
        for type in ChecksumType.allCases {
            #expect(Checksummer(type).digest([1, 2, 3]).count == type.size)
        }
        #expect(ChecksumType.allCases.map(\.size) == [4, 8, 32, 32])
    }

    @Test("hardware and portable CRC32C agree at every length and alignment")
    func crcPathsAgree() {
        var state: UInt64 = 0x1234_5678
        let bytes: [UInt8] = (0..<5000).map { _ in
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return UInt8(truncatingIfNeeded: state >> 33)
        }
        bytes.withUnsafeBytes { raw in
            for start in 0..<9 {
                for length in [0, 1, 7, 8, 9, 63, 64, 100, 4096, 4990 - start] {
                    let slice = UnsafeRawBufferPointer(rebasing: raw[start..<(start + length)])
                    #expect(
                        duet_crc32c_update(0xFFFF_FFFF, slice.baseAddress, length)
                            == duet_crc32c_update_portable(0xFFFF_FFFF, slice.baseAddress, length))
                }
            }
        }
    }

    @Test("matches() compares against a stored checksum without allocating a digest")
    func matchesStored() {
        let sector = [UInt8](repeating: 0xAB, count: 4096)
        for type in ChecksumType.allCases {
            let checksummer = Checksummer(type)
            var stored = checksummer.digest(sector) + [UInt8](repeating: 0, count: 32 - type.size)
            sector.withUnsafeBytes { data in
                stored.withUnsafeBytes { #expect(checksummer.matches(data, expected: $0)) }
                stored[0] ^= 1
                stored.withUnsafeBytes { #expect(!checksummer.matches(data, expected: $0)) }
            }
        }
    }
}
