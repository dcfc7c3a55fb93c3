"""Page wording, Indonesian first and English on request (?lang=en). One table, no logic."""

from __future__ import annotations

LANGUAGES = ("id", "en")

TEXT: dict[str, dict[str, str]] = {
    "site": {"id": "Verifikasi Sertifikat", "en": "Certificate Verification"},
    "body": {"id": "Balai Sertifikasi, Kementerian Perdagangan", "en": "Certification Centre, Ministry of Trade"},
    "intro": {"id": "Periksa keaslian dan status sertifikat produk, sertifikat kompetensi, kartu personel, dan sertifikat pelatihan.",
              "en": "Check that a product certificate, certificate of competence, person card or training certificate is genuine and valid."},
    "scan_hint": {"id": "Pindai kode QR pada dokumen dengan kamera ponsel, atau:", "en": "Scan the QR code on the document with a phone camera, or:"},
    "number_label": {"id": "Nomor sertifikat", "en": "Certificate number"},
    "check": {"id": "Periksa", "en": "Check"},
    "upload_label": {"id": "Unggah foto kode QR atau berkas PDF sertifikat", "en": "Upload a photo of the QR code or the certificate PDF"},
    "upload": {"id": "Unggah dan periksa", "en": "Upload and check"},
    "result": {"id": "Hasil pemeriksaan", "en": "Verification result"},
    "details": {"id": "Rincian pemeriksaan", "en": "Checks made"},
    "printed": {"id": "Data yang tercetak pada dokumen", "en": "What the document shows"},
    "compare": {"id": "Bandingkan dengan dokumen di tangan Anda. Bila berbeda, dokumen itu palsu.",
                "en": "Compare with the document in your hands. If anything differs, that document is not genuine."},
    "again": {"id": "Periksa dokumen lain", "en": "Check another document"},
    "report_link": {"id": "Laporkan sertifikat yang mencurigakan", "en": "Report a suspicious certificate"},
    "report_title": {"id": "Laporkan sertifikat yang mencurigakan", "en": "Report a suspicious certificate"},
    "report_intro": {"id": "Laporan Anda diteruskan kepada petugas Balai Sertifikasi sebagai pengaduan.",
                     "en": "Your report goes to the Certification Centre's staff as a complaint."},
    "message": {"id": "Apa yang mencurigakan?", "en": "What is suspicious?"},
    "contact": {"id": "Kontak Anda (tidak wajib)", "en": "Your contact (optional)"},
    "send": {"id": "Kirim laporan", "en": "Send report"},
    "thanks": {"id": "Terima kasih. Laporan Anda telah diterima dengan nomor", "en": "Thank you. Your report was received as number"},
    "number": {"id": "Nomor", "en": "Number"},
    "kind": {"id": "Jenis dokumen", "en": "Document"},
    "status_since": {"id": "sejak", "en": "since"},
    "successor": {"id": "Diganti oleh", "en": "Replaced by"},
    "reason": {"id": "Alasan", "en": "Reason"},
    "error": {"id": "Permintaan tidak dapat diproses", "en": "The request could not be processed"},
    "language": {"id": "English", "en": "Bahasa Indonesia"},
    "product": {"id": "Sertifikat produk", "en": "Product certificate"},
    "person": {"id": "Sertifikat kompetensi", "en": "Certificate of competence"},
    "training": {"id": "Sertifikat pelatihan", "en": "Training certificate"},
    "host_not_official": {"id": "Kode QR ini mengarah ke alamat yang bukan alamat verifikasi resmi: dokumen ini tidak "
                                "diterbitkan oleh Balai Sertifikasi. Jangan isikan data apa pun di alamat tersebut.",
                          "en": "This QR code points to an address that is not the official verification address: the "
                                "document was not issued by the Certification Centre. Do not enter anything at that address."},
}

VERDICT: dict[str, dict[str, tuple[str, str]]] = {
    # verdict -> language -> (headline, explanation)
    "VALID": {"id": ("SAH", "Sertifikat ini asli dan berlaku."), "en": ("VALID", "This certificate is genuine and in force.")},
    "SUSPENDED": {"id": ("DIBEKUKAN", "Sertifikat ini asli tetapi sedang dibekukan: tidak berlaku saat ini."),
                  "en": ("SUSPENDED", "This certificate is genuine but suspended: it is not in force now.")},
    "WITHDRAWN": {"id": ("DICABUT", "Sertifikat ini telah dicabut dan tidak berlaku lagi."),
                  "en": ("WITHDRAWN", "This certificate has been withdrawn and is no longer valid.")},
    "REPLACED": {"id": ("DIGANTI", "Sertifikat ini telah diganti dengan sertifikat baru."),
                 "en": ("REPLACED", "This certificate has been replaced by a new one.")},
    "EXPIRED": {"id": ("KEDALUWARSA", "Masa berlaku sertifikat ini telah habis."),
                "en": ("EXPIRED", "This certificate has expired.")},
    "UNKNOWN": {"id": ("TIDAK TERDAFTAR", "Nomor ini tidak terdaftar di Balai Sertifikasi."),
                "en": ("NOT REGISTERED", "This number is not registered with the Certification Centre.")},
    "INVALID": {"id": ("TIDAK SAH", "Dokumen ini tidak asli atau telah diubah. Jangan dipercaya."),
                "en": ("NOT GENUINE", "This document is not genuine or has been altered. Do not rely on it.")},
    "INDETERMINATE": {"id": ("TIDAK DAPAT DIPERIKSA", "Pemeriksaan belum dapat diselesaikan."),
                      "en": ("COULD NOT BE CHECKED", "The check could not be completed.")},
}

#: Record fields the page may show, per kind, with labels: exactly what the paper prints.
FIELDS: dict[str, list[tuple[str, str, str]]] = {
    "product": [("client_name", "Pemegang Sertifikat", "Certificate holder"), ("client_address", "Alamat", "Address"),
                ("product", "Produk", "Product"), ("brand", "Merek", "Brand"), ("type_model", "Tipe / Model", "Type / model"),
                ("standard", "Standar", "Standard"), ("scheme_type", "Skema (tipe)", "Scheme type"),
                ("factory_name", "Pabrik", "Factory"), ("factory_address", "Alamat Pabrik", "Factory address"),
                ("grant_date", "Tanggal Terbit", "Date of issue"), ("expiry_date", "Berlaku Sampai", "Valid until")],
    "person": [("name", "Nama", "Name"), ("scheme_name", "Skema Sertifikasi", "Certification scheme"),
               ("scheme_code", "Kode Skema", "Scheme code"), ("scope", "Ruang Lingkup", "Scope"),
               ("grant_date", "Tanggal Terbit", "Date of issue"), ("expiry_date", "Berlaku Sampai", "Valid until")],
    "training": [("name", "Nama Peserta", "Participant"), ("course", "Bimbingan Teknis", "Course"),
                 ("course_code", "Kode Kegiatan", "Course code"), ("start_date", "Mulai", "From"),
                 ("end_date", "Selesai", "To"), ("hours", "Jam Pelajaran", "Hours"), ("organiser", "Penyelenggara", "Organiser")],
}

#: Claim fields shown when there is no registry record (offline seal check).
CLAIMS = [("holder", "Pemegang / Nama", "Holder"), ("scheme", "Skema / Standar", "Scheme / standard"),
          ("subject", "Keterangan", "Subject"), ("granted", "Tanggal Terbit", "Date of issue"),
          ("expires", "Berlaku Sampai", "Valid until")]


MONTHS = {
    "id": ("Januari", "Februari", "Maret", "April", "Mei", "Juni", "Juli", "Agustus", "September", "Oktober",
           "November", "Desember"),
    "en": ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December"),
}


def t(key: str, lang: str) -> str:
    return TEXT[key][lang]
