"""Make the bundled sample inputs in samples/: product type 1 (CSV), product type 5 (XLSX),
person (CSV with photos), training (XLSX). Deterministic: rerunning gives the same files.
The people, companies and photos are invented; the SNI standards are real titles."""

from __future__ import annotations

import csv
import random
from datetime import date, timedelta
from pathlib import Path

from openpyxl import Workbook
from PIL import Image, ImageDraw

OUT = Path(__file__).resolve().parent.parent / "samples"
ROWS = 55

FIRST = ["Budi", "Siti", "Agus", "Dewi", "Rizky", "Putri", "Andi", "Wahyu", "Ratna", "Yohanes", "Made", "Ni Luh",
         "Gede", "Komang", "Nyoman", "Teuku", "Cut", "Muhammad", "Nur", "Fitri", "Hendra", "Lestari", "Bambang",
         "Sri", "Dimas", "Ayu", "Fransiskus", "Maria", "Theresia", "Ikhsan", "Rahmat", "Indah", "Galih", "Yulia"]
LAST = ["Santoso", "Wijaya", "Pratama", "Kusumawardhani", "Hutapea", "Simanjuntak", "Nasution", "Siregar",
        "Lubis", "Saragih", "Manurung", "Sinaga", "Tanjung", "Daeng Matutu", "Pattiasina", "Wenas", "Sembiring",
        "Ginting", "Setiawan", "Hidayat", "Permana", "Suryadi", "Gunawan", "Halim", "Tanoto", "Sulistyowati",
        "Rahmawati", "Firmansyah", "Nugroho", "Susanto", "Purnamasari", "Wirawan", "Aritonang", "Ma'ruf"]
SINGLE = ["Sukarni", "Suharti", "Paijo", "Sumarni", "Tukiman", "Waginah", "Sutrisno", "Karsinah"]
COMPANIES = ["PT Krakatau Baja Utama", "PT Semen Nusantara Perkasa Tbk", "PT Sinar Elektrik Indonesia",
             "PT Helmindo Safety Utama", "PT Tirta Pegunungan Sejahtera", "PT Karet Ban Perkasa",
             "CV Mainan Kreatif Nusantara", "PT Gula Manis Jaya", "PT Sawit Emas Lestari", "PT Kabel Prima Utama",
             "PT Terigu Bogasari Mandiri", "PT Anugerah Listrik Abadi", "PT Cahaya Lampu Indonesia",
             "PT Mitra Keramik Jaya", "PT Baja Ringan Sentosa", "PT Pipa Plastik Nusantara"]
ADDRESSES = ["Kawasan Industri Jababeka II Blok C-12, Cikarang, Bekasi, Jawa Barat 17530",
             "Kawasan Industri MM2100 Blok M-3, Cibitung, Bekasi, Jawa Barat 17520",
             "Jl. Raya Serang KM 24, Balaraja, Tangerang, Banten 15610",
             "Kawasan Industri Pulogadung, Jl. Rawa Gelam III No. 7, Jakarta Timur 13930",
             "Jl. Rungkut Industri III No. 12, Surabaya, Jawa Timur 60293",
             "Kawasan Industri Medan Star, Tanjung Morawa, Deli Serdang, Sumatera Utara 20362",
             "Kawasan Industri Kendal, Jl. Raya Arteri Kaliwungu, Kendal, Jawa Tengah 51372",
             "Kawasan Industri Makassar, Jl. Kima 10 Kav. N-2, Makassar, Sulawesi Selatan 90241",
             "Batamindo Industrial Park, Jl. Beringin Lot 211, Muka Kuning, Batam, Kepulauan Riau 29433"]
PRODUCTS = [("Baja tulangan beton", "BjTS 420B ulir, diameter 10–32 mm", "SNI 2052:2017"),
            ("Semen portland", "Tipe I, kemasan 50 kg", "SNI 15-2049-2004"),
            ("Helm pengendara kendaraan bermotor roda dua", "Half face HX-200", "SNI 1811:2007"),
            ("Air mineral dalam kemasan", "Botol 600 ml", "SNI 3553:2015"),
            ("Ban sepeda motor", "80/90-17 tubeless", "SNI 0099:2012"),
            ("Mainan anak", "Balok susun kayu 48 keping", "SNI ISO 8124-1:2010"),
            ("Gula kristal putih", "GKP 1, kemasan 1 kg", "SNI 3140.3:2010"),
            ("Minyak goreng sawit", "Kemasan 2 liter", "SNI 7709:2019"),
            ("Kabel berinsulasi PVC", "NYM 3 x 2,5 mm²", "SNI IEC 60227-4:2009"),
            ("Tepung terigu sebagai bahan makanan", "Protein tinggi, 25 kg", "SNI 3751:2009"),
            ("Setrika listrik", "Model SL-350, 350 W", "SNI IEC 60335-2-3:2009"),
            ("Kotak kontak dan tusuk kontak", "Stop kontak 2P+E 16 A", "SNI IEC 60884-1:2013"),
            ("Lampu swaballast", "LED 9 W E27", "SNI IEC 62560:2015")]
BRANDS = ["Garuda", "Merapi", "Sinar", "Nusa", "Rajawali", "Cendana", "Bahari", "Samudra", "Arjuna", "Kencana"]
SCHEMES = {"SKM-PMB-01": "Pengambilan contoh produk bertanda SNI di pasar dan gudang",
           "SKM-PTK-03": "Pengawasan mutu barang beredar dan jasa perdagangan",
           "SKM-AUD-02": "Audit sistem manajemen mutu ISO 9001:2015 pada industri manufaktur",
           "SKM-LAB-04": "Pengujian mutu produk baja dan logam di laboratorium",
           "SKM-MTR-05": "Tera dan tera ulang alat ukur, takar, timbang dan perlengkapannya",
           "SKM-SNI-08": "Pendampingan usaha kecil dalam penerapan SNI"}
COURSES = [("Penerapan SNI ISO/IEC 17025:2017 untuk Laboratorium Pengujian", "BIMTEK-LAB-2026-01", 32),
           ("Audit Internal Sistem Manajemen Mutu ISO 9001:2015", "BIMTEK-AUD-2026-02", 24),
           ("Pengambilan Contoh Produk Bertanda SNI", "BIMTEK-PMB-2026-03", 16),
           ("Pengawasan Barang Beredar dan Jasa", "BIMTEK-PBJ-2026-04", 20),
           ("Metrologi Legal bagi Pelaku Usaha", "BIMTEK-MTR-2026-05", 16),
           ("Penyusunan Dokumen Sistem Manajemen Mutu Lembaga Sertifikasi", "BIMTEK-DOK-2026-06", 24)]
CITIES = ["Jakarta", "Surabaya", "Medan", "Makassar", "Denpasar", "Bandung", "Semarang", "Balikpapan"]


def person_name(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.12:
        return rng.choice(SINGLE)
    if roll < 0.2:
        return f"{rng.choice(FIRST)} Nur-{rng.choice(['Aisyah', 'Hidayah', 'Cahya'])} {rng.choice(LAST)}"
    return f"{rng.choice(FIRST)} {rng.choice(LAST)}" + (f" {rng.choice(LAST)}" if rng.random() < 0.25 else "")


def photo(path: Path, rng: random.Random) -> None:
    """An invented passport-style picture: coloured background, head and shoulders."""
    image = Image.new("RGB", (300, 400), tuple(rng.randint(150, 230) for _ in range(3)))
    draw = ImageDraw.Draw(image)
    skin = rng.choice([(224, 172, 105), (198, 134, 66), (141, 85, 36), (241, 194, 125)])
    cloth = tuple(rng.randint(20, 120) for _ in range(3))
    draw.ellipse((40, 250, 260, 470), fill=cloth)
    draw.ellipse((95, 90, 205, 225), fill=skin)
    draw.rectangle((130, 210, 170, 260), fill=skin)
    draw.pieslice((90, 70, 210, 190), 180, 360, fill=(30, 25, 20))
    image.save(path, "JPEG", quality=80)


def main() -> None:
    rng = random.Random(20261124)
    OUT.mkdir(exist_ok=True)
    (OUT / "photos").mkdir(exist_ok=True)
    base = date(2026, 11, 2)

    product_cols = ["client_name", "client_address", "product", "brand", "type_model", "standard", "scheme_type",
                    "factory_name", "factory_address", "grant_date", "expiry_date"]
    type1, type5 = [], []
    for i in range(ROWS * 2):
        name, model, standard = rng.choice(PRODUCTS)
        company = rng.choice(COMPANIES)
        grant = base + timedelta(days=rng.randint(0, 20))
        scheme = 1 if i % 2 == 0 else 5
        row = [company, rng.choice(ADDRESSES), name, rng.choice(BRANDS), f"{model} ({i + 1:03d})", standard, scheme,
               f"{company} Pabrik {rng.choice(CITIES)}" if scheme == 5 else "",
               rng.choice(ADDRESSES) if scheme == 5 else "", grant.isoformat(),
               (grant + timedelta(days=365 * (4 if scheme == 5 else 3) - 1)).isoformat()]
        (type1 if scheme == 1 else type5).append(row)
    with open(OUT / "product-type1.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(product_cols)
        writer.writerows(type1)
    book = Workbook()
    sheet = book.active
    sheet.title = "produk tipe 5"
    sheet.append(product_cols)
    for row in type5:
        sheet.append(row[:9] + [date.fromisoformat(row[9]), date.fromisoformat(row[10])])
    book.save(OUT / "product-type5.xlsx")

    with open(OUT / "person.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["name", "scheme_code", "scope", "grant_date", "expiry_date", "photo"])
        for i in range(ROWS):
            code = rng.choice(sorted(SCHEMES))
            grant = base + timedelta(days=rng.randint(0, 20))
            picture = f"photos/person-{i + 1:03d}.jpg"
            photo(OUT / picture, rng)
            writer.writerow([person_name(rng), code, SCHEMES[code], grant.strftime("%d/%m/%Y"),
                             (grant + timedelta(days=3 * 365 - 1)).strftime("%d/%m/%Y"), picture])

    book = Workbook()
    sheet = book.active
    sheet.title = "peserta bimtek"
    sheet.append(["name", "course", "course_code", "start_date", "end_date", "hours", "organiser", "place"])
    for i in range(ROWS):
        course, code, hours = COURSES[i % len(COURSES)]
        start = base + timedelta(days=7 * (i % len(COURSES)))
        sheet.append([person_name(rng), course, code, start, start + timedelta(days=hours // 8 - 1), hours,
                      "Balai Sertifikasi, Kementerian Perdagangan", rng.choice(CITIES)])
    book.save(OUT / "training.xlsx")
    print(f"samples written to {OUT}")


if __name__ == "__main__":
    main()
