"""Demo data (``helpdesk demo``): a regency LPSE in WIB with its staff, requesters and three weeks of tickets.

Everything goes through the services (``open_ticket`` with a past ``received_at``, then replies, status changes,
assignments, escalations and resolutions with past ``at`` times), so events, follow-up deadlines and SLA fields
are exactly what real use would have produced. The ``now`` passed in is the only clock; the same ``now`` gives
the same data. Flushes, never commits: the caller commits.

Suppliers' addresses use the reserved ``example.com`` domain and agencies' the made-up regency's
``sukamajukab.go.id``, so the demo replies queued in the outbox cannot reach a real person.
"""
from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any, Final

from sqlalchemy import select

from escalation.calendar import WorkingCalendar
from escalation.sla import SlaState, sla_state
from faq.packs import import_seed

from . import settings, tickets
from .calendars import calendar_for, forget_calendars
from .extensions import db
from .models import DEFAULT_OFFICE_HOURS, CallLog, Office, Requester, Staff, Ticket, WalkinVisit, count_rows
from .requesters import find_or_create_requester, normalise_nik, normalise_npwp, normalise_user_id
from .staff import create_staff
from .states import Status
from .timeutil import as_utc, utcnow
from .vocab import Channel, SpseRole, StaffRole

SEED: Final = 20261124
PASSWORD: Final = "demo12345"
WORKING_DAYS_BACK: Final = 15  # tickets are received over the last ~15 working days

OFFICE: Final = {
    "code": "sukamaju", "name": "LPSE Kabupaten Sukamaju", "ticket_prefix": "SKM", "timezone": "Asia/Jakarta",
    "address": "Kompleks Perkantoran Setda Kabupaten Sukamaju, Gedung B Lantai 2, Jl. Jenderal Sudirman No. 1, "
               "Sukamaju 46111",
    "phone": "(0265) 331-4410", "email": "helpdesk@lpse.sukamajukab.go.id",
}
STAFF_DOMAIN: Final = "lpse.sukamajukab.go.id"

# (name, email local part, role, phone)
STAFF: Final = [
    ("Administrator Sistem", "admin", StaffRole.ADMIN, None),
    ("Ir. Hendra Gunawan, M.T.", "hendra.gunawan", StaffRole.KEPALA, "0811-234-5678"),
    ("Rina Wulandari", "rina.wulandari", StaffRole.HELPDESK, "0812-9087-6543"),
    ("Agus Setiawan", "agus.setiawan", StaffRole.HELPDESK, "0813-5566-7788"),
    ("Dewi Lestari", "dewi.lestari", StaffRole.HELPDESK, "0821-9900-1122"),
    ("Bambang Hermawan", "bambang.hermawan", StaffRole.VERIFIKATOR, "0852-3344-5566"),
    ("Sri Rahayu", "sri.rahayu", StaffRole.VERIFIKATOR, "0877-1122-3344"),
    ("Eko Prasetyo, S.Kom.", "eko.prasetyo", StaffRole.ADMIN_PPE, "0899-8877-6655"),
    ("Fitri Handayani", "fitri.handayani", StaffRole.TRAINER, "0814-2233-1144"),
]

P, K, J, PP = SpseRole.PENYEDIA, SpseRole.PPK, SpseRole.POKJA, SpseRole.PP

# (name, organization, SPSE role, email or None, phone as typed)
REQUESTERS: Final = [
    ("Budi Santoso", "CV Karya Mandiri", P, "cv.karyamandiri@example.com", "0812-2345-6781"),
    ("Siti Nurhaliza", "CV Sinar Jaya Abadi", P, "sinarjaya.abadi@example.com", "081327654321"),
    ("Hadi Wijaya", "PT Bangun Persada Nusantara", P, "tender@bangunpersada.example.com", "0821 4455 6677"),
    ("Joko Susilo", "CV Tiga Putra", P, None, "0852-1122-3344"),
    ("Ahmad Fauzi", "PT Sukamaju Konstruksi Utama", P, "admin@skutama.example.com", "0857 3210 9876"),
    ("Yuliana Putri", "CV Mitra Sejahtera", P, "mitrasejahtera.cv@example.com", "0878-6543-2109"),
    ("Dedi Kurniawan", "CV Berkah Teknik", P, None, "0896 1234 5678"),
    ("Ratna Sari", "PT Cahaya Medika Sentosa", P, "ratna.sari@cahayamedika.example.com", "0838-9988-7766"),
    ("Wahyu Hidayat", "CV Anugerah Bersama", P, "anugerahbersama@example.com", "0813 1357 2468"),
    ("Agustina Manurung", "PT Griya Lestari Engineering", P, "pengadaan@griyalestari.example.com", "0822-7788-9900"),
    ("Rizki Ramadhan", "CV Rizki Pratama", P, None, "0853 6677 8899"),
    ("Slamet Riyadi", "CV Dua Saudara", P, "duasaudara.cv@example.com", "0819-1234-5670"),
    ("Ir. Bambang Sutrisno", "Dinas Pekerjaan Umum dan Penataan Ruang", K, "ppk.pupr@sukamajukab.go.id",
     "0815 8765 4321"),
    ("dr. Maya Anggraini", "Dinas Kesehatan", K, "maya.anggraini@sukamajukab.go.id", "0856-4321-8765"),
    ("Teguh Prasetyo, S.Pd.", "Dinas Pendidikan dan Kebudayaan", K, None, "0881-2233-4455"),
    ("Nurul Hidayah, S.E.", "RSUD Sukamaju", K, "nurul.hidayah@sukamajukab.go.id", "0895 3456 7891"),
    ("Arif Rahman, S.T.", "Pokja Pemilihan UKPBJ Setda Kabupaten Sukamaju", J, "arif.rahman@sukamajukab.go.id",
     "0817 246 8135"),
    ("Lina Marlina, S.H.", "Pokja Pemilihan UKPBJ Setda Kabupaten Sukamaju", J, "lina.marlina@sukamajukab.go.id",
     "0831-7531-9642"),
    ("Rudi Hartono, S.T.", "Pokja Pemilihan UKPBJ Setda Kabupaten Sukamaju", J, None, "0858 2468 1357"),
    ("Sri Mulyani, S.Sos.", "Pokja Pemilihan UKPBJ Setda Kabupaten Sukamaju", J, "sri.mulyani@sukamajukab.go.id",
     "0812-7711-2233"),
    ("Andi Saputra", "Dinas Pertanian dan Ketahanan Pangan", PP, "andi.saputra@sukamajukab.go.id", "0813-2200-4411"),
    ("Wulan Sari, A.Md.", "Dinas Perhubungan", PP, None, "0822 3311 5566"),
    ("Heru Santoso", "Kecamatan Sukamaju Kota", PP, "heru.santoso@sukamajukab.go.id", "0852 7788 1100"),
    ("Drs. Sugeng Riyanto, M.Si.", "Dinas Pekerjaan Umum dan Penataan Ruang", SpseRole.PA_KPA,
     "kadis.pupr@sukamajukab.go.id", "0811-2200-3344"),
    ("Irawati, S.E., Ak.", "Inspektorat Kabupaten Sukamaju", SpseRole.AUDITOR, "irawati@sukamajukab.go.id",
     "0812-6655-4433"),
    ("Yusuf Maulana", "Lembaga Swadaya Masyarakat Pantau Anggaran", SpseRole.PUBLIK, "yusuf.maulana@example.com",
     "0857-9911-2244"),
]

# NPWP, NIK and SPSE User ID of the first suppliers above (made up; the NIKs are well-formed, not real).
IDENTITIES: Final = [
    ("01.234.567.8-901.000", "3201011505800003", "cvkaryamandiri"),
    ("02.345.678.9-012.000", None, "sinarjayaabadi"),
    ("03.456.789.0-123.000", None, "bangunpersada"),
]

# How many tickets come through each channel (60 in all).
CHANNEL_MIX: Final = {Channel.EMAIL: 16, Channel.PHONE: 13, Channel.WALKIN: 9, Channel.WHATSAPP: 11,
                      Channel.WEB: 7, Channel.SMS: 4}

# (final status, follow-up outcome, count). Outcomes: overdue / due_today / on_track (still awaiting the
# follow-up at ``now``), met / missed (followed up on time / late), reopened (resolved, then back), spam.
STORIES: Final = [
    (Status.NEW, "overdue", 4), (Status.NEW, "due_today", 3), (Status.NEW, "on_track", 3),
    (Status.OPEN, "overdue", 2), (Status.OPEN, "due_today", 1), (Status.OPEN, "met", 3), (Status.OPEN, "missed", 1),
    (Status.OPEN, "reopened", 2),
    (Status.PENDING, "met", 3), (Status.PENDING, "missed", 1),
    (Status.ESCALATED, "met", 3), (Status.ESCALATED, "missed", 1),
    (Status.WAITING, "met", 3), (Status.WAITING, "missed", 1),
    (Status.RESOLVED, "met", 8), (Status.RESOLVED, "missed", 2),
    (Status.CLOSED, "met", 15), (Status.CLOSED, "missed", 3), (Status.CLOSED, "spam", 1),
]
AWAITING: Final = ("overdue", "due_today", "on_track")


@dataclass(frozen=True)
class Topic:
    """A kind of question an LPSE helpdesk hears, with what an officer answers."""

    key: str
    roles: tuple[str, ...]
    subject: str
    body: str
    reply: str
    solution: str
    classification: dict[str, Any]
    ask: str | None = None  # what an officer asks for before answering; else ASK_TECHNICAL or ASK_IDENTITY
    escalate_to: str | None = None
    escalate_reason: str = ""
    channels: tuple[str, ...] = ()  # when only some channels make sense


def _cls(application: str, ticket_type: str, kind: str, technical: bool, urgent: bool, impact: str,
         priority: str, error_code: str | None = None) -> dict[str, Any]:
    values = {"application": application, "ticket_type": ticket_type, "kind": kind, "is_technical": technical,
              "urgency": "urgent" if urgent else "not_urgent", "impact": impact, "priority": priority}
    if error_code:
        values["error_code"] = error_code
    return values


TOPICS: Final = [
    Topic("lupa_password", (P,), "Lupa password akun penyedia {company}",
          "Selamat pagi, kami dari {company} lupa password akun SPSE. Sudah mencoba menu Lupa Password tetapi "
          "email reset tidak masuk, padahal minggu ini ada tender yang akan kami ikuti. Mohon dibantu reset akun.",
          "Silakan periksa juga folder spam. Bila email reset tetap tidak masuk, kirimkan surat permohonan reset "
          "password berkop perusahaan yang ditandatangani direktur beserta scan KTP direktur ke "
          "helpdesk@lpse.sukamajukab.go.id.",
          "Password akun penyedia sudah direset oleh verifikator dan dikirim ke email terdaftar; pelapor sudah "
          "berhasil login.",
          _cls("spse", "request", "procedure", False, True, "medium", "medium"),
          ask="Mohon kirimkan surat permohonan reset password berkop perusahaan yang ditandatangani direktur dan "
              "scan KTP direktur agar reset akun dapat kami proses.",
          escalate_to=StaffRole.VERIFIKATOR,
          escalate_reason="Reset akun penyedia, perlu pemeriksaan dokumen direktur."),
    Topic("akun_terblokir", (P,), "Akun SPSE terblokir setelah salah password",
          "Akun kami terblokir setelah beberapa kali salah memasukkan password, muncul pesan 'User ID Anda "
          "terblokir'. Bagaimana cara membukanya? Besok batas akhir pemasukan penawaran.",
          "Akun terkunci otomatis setelah beberapa kali gagal login. Silakan tunggu 30 menit lalu coba lagi dengan "
          "satu peramban saja; bila tetap terkunci kami bantu buka dari sisi admin.",
          "Blokir akun dibuka oleh Admin PPE; penyedia berhasil login kembali.",
          _cls("spse", "problem", "software", True, True, "medium", "high", "User ID Anda terblokir"),
          escalate_to=StaffRole.ADMIN_PPE, escalate_reason="Mohon buka blokir akun penyedia dari menu admin."),
    Topic("upload_gagal", (P,), "Upload dokumen penawaran gagal, tender {tender}",
          "Kami sedang mengunggah dokumen penawaran untuk tender kode {tender}, tetapi proses upload selalu berhenti "
          "di 90% lalu muncul pesan gagal. Batas akhir pemasukan penawaran besok pukul 10.00 WIB. Mohon segera "
          "dibantu.",
          "Silakan coba dengan jaringan lain (LAN kantor), peramban versi terbaru, dan pastikan ukuran file sesuai "
          "dokumen pemilihan. Jangan menunggu menit terakhir. Bila tetap gagal, silakan datang ke ruang "
          "pendampingan LPSE dengan membawa file penawaran.",
          "Penawaran berhasil diunggah dari ruang pendampingan LPSE memakai jaringan kantor; status dokumen "
          "terkirim sudah tampil di halaman tender.",
          _cls("spse", "problem", "software", True, True, "high", "high",
               "Upload gagal: koneksi terputus (ERR_CONNECTION_RESET)"),
          escalate_to=StaffRole.ADMIN_PPE, escalate_reason="Cek log server unggah pada jam kejadian."),
    Topic("spamkodok", (P,), "SPAMKodok gagal mengenkripsi dokumen penawaran",
          "Saat mengenkripsi dokumen penawaran tender {tender} dengan SPAMKodok muncul pesan gagal membuat file "
          ".rhs. Kami memakai Windows 10 64-bit. Mohon petunjuknya.",
          "Pastikan SPAMKodok versi terbaru yang diunduh dari halaman tender, jalankan sebagai administrator, dan "
          "nama file/folder tidak memuat karakter khusus. Coba juga nonaktifkan antivirus sementara.",
          "Setelah SPAMKodok diperbarui dan folder kerja dipindah ke C:\\Penawaran, enkripsi berhasil dan file "
          ".rhs sudah terunggah.",
          _cls("spse", "problem", "software", True, True, "medium", "high", "Gagal membuat file .rhs"),
          escalate_to=StaffRole.ADMIN_PPE, escalate_reason="SPAMKodok gagal di beberapa komputer penyedia; cek versi."),
    Topic("apendo", (P,), "Apakah masih perlu Apendo untuk mengirim penawaran?",
          "Kami baru pertama kali ikut tender di LPSE Kabupaten Sukamaju. Apakah dokumen penawaran masih harus "
          "dienkripsi dengan Apendo, atau cukup SPAMKodok? Di mana mengunduh aplikasinya?",
          "Apendo sudah tidak dipakai di SPSE versi 4. Untuk tender di LPSE Kabupaten Sukamaju dokumen penawaran "
          "dienkripsi dengan SPAMKodok yang dapat diunduh di halaman tender setelah Bapak/Ibu mendaftar.",
          "Dijelaskan bahwa Apendo sudah tidak digunakan; enkripsi memakai SPAMKodok dari halaman tender.",
          _cls("spse", "request", "procedure", False, False, "low", "low")),
    Topic("jadwal_pokja", (J,), "Tidak bisa mengubah jadwal tahapan tender {tender}",
          "Kami Pokja Pemilihan ingin mengundur jadwal pemasukan penawaran tender {tender} karena ada adendum "
          "dokumen pemilihan, tetapi tombol ubah jadwal tidak aktif.",
          "Perubahan jadwal hanya bisa untuk tahapan yang belum berjalan dan wajib mengisi alasan perubahan. Mohon "
          "pastikan seluruh anggota Pokja sudah menyetujui adendum di menu paket.",
          "Jadwal berhasil diubah setelah Admin PPE memperbaiki status persetujuan paket; Pokja sudah mengumumkan "
          "perubahan jadwal.",
          _cls("spse", "problem", "software", True, True, "medium", "medium"),
          escalate_to=StaffRole.ADMIN_PPE, escalate_reason="Tombol ubah jadwal tidak aktif walau tahapan belum lewat."),
    Topic("jadwal_tanya", (P, SpseRole.PUBLIK), "Jadwal pembukaan penawaran tender {tender}",
          "Mohon info jadwal pembukaan penawaran dan pengumuman pemenang tender {tender}, karena jadwal di halaman "
          "tender berubah.",
          "Jadwal terbaru tercantum di halaman tender bagian Jadwal beserta riwayat perubahannya. Perubahan jadwal "
          "adalah kewenangan Pokja; pertanyaan substansi silakan disampaikan melalui fitur penjelasan.",
          "Pelapor diarahkan ke halaman jadwal tender dan riwayat perubahan jadwal.",
          _cls("spse", "request", "procedure", False, False, "low", "low")),
    Topic("verifikasi", (P,), "Jadwal verifikasi berkas penyedia baru {company}",
          "Kami sudah mendaftar akun penyedia secara online atas nama {company}. Kapan bisa datang untuk verifikasi "
          "dan dokumen asli apa saja yang harus dibawa?",
          "Verifikasi dilayani Senin–Jumat pada jam kerja. Bawa dokumen asli dan salinan: KTP direktur, NPWP badan "
          "usaha, NIB, akta pendirian dan perubahan terakhir, serta formulir pendaftaran. Bila diwakilkan, bawa "
          "surat kuasa direktur.",
          "Berkas penyedia sudah diverifikasi dan akun diaktifkan oleh verifikator.",
          _cls("spse", "request", "procedure", False, False, "low", "low"),
          escalate_to=StaffRole.VERIFIKATOR, escalate_reason="Verifikasi berkas penyedia baru."),
    Topic("belum_aktif", (P,), "Akun {company} sudah diverifikasi tetapi belum aktif",
          "Kemarin kami sudah verifikasi berkas di kantor LPSE, tetapi sampai sekarang akun {company} belum bisa "
          "dipakai login. Mohon dicek.",
          "Kami cek ke verifikator; persetujuan akun baru biasanya selesai paling lama 1 hari kerja setelah "
          "verifikasi.",
          "Verifikator sudah menyetujui pendaftaran; akun aktif dan bisa dipakai login.",
          _cls("spse", "request", "procedure", False, False, "medium", "medium"),
          escalate_to=StaffRole.VERIFIKATOR, escalate_reason="Cek status persetujuan pendaftaran penyedia."),
    Topic("ubah_pengurus", (P,), "Perubahan data direktur {company} di SIKaP",
          "Direktur {company} berganti berdasarkan akta perubahan terbaru. Bagaimana cara mengubah data pengurus "
          "di SIKaP dan apakah perlu verifikasi ulang?",
          "Perbarui data pengurus dan akta di SIKaP, unggah akta perubahan, lalu datang ke LPSE untuk verifikasi "
          "perubahan data dengan membawa akta asli.",
          "Perubahan data pengurus sudah diverifikasi oleh verifikator.",
          _cls("sikap", "request", "procedure", False, False, "low", "low"),
          escalate_to=StaffRole.VERIFIKATOR, escalate_reason="Verifikasi perubahan data pengurus."),
    Topic("sirup", (K, PP, SpseRole.PA_KPA), "Paket SiRUP kode {rup} tidak muncul di SPSE",
          "Paket dengan kode RUP {rup} sudah diumumkan di SiRUP sejak minggu lalu, tetapi saat membuat paket di "
          "SPSE tidak muncul di daftar. Mohon bantuannya karena paket harus segera ditender.",
          "Pastikan RUP sudah diumumkan (bukan draf) dan satuan kerja serta tahun anggaran sesuai. Sinkronisasi "
          "SiRUP ke SPSE bisa memerlukan waktu; kami cek dari sisi admin.",
          "Setelah sinkronisasi ulang oleh Admin PPE, paket RUP {rup} muncul di SPSE dan sudah dibuat oleh PPK.",
          _cls("sirup", "problem", "software", True, True, "medium", "high"),
          escalate_to=StaffRole.ADMIN_PPE, escalate_reason="Sinkronisasi RUP {rup} ke SPSE belum masuk; cek satker."),
    Topic("etalase", (P,), "Cara mendaftar produk di etalase e-Katalog lokal",
          "Kami penyedia material bangunan ingin menayangkan produk di etalase katalog lokal Kabupaten Sukamaju. "
          "Apa persyaratannya dan kapan pendaftaran dibuka?",
          "Pendaftaran etalase katalog lokal mengikuti pengumuman UKPBJ Kabupaten Sukamaju. Diperlukan akun SPSE "
          "yang sudah terverifikasi; persyaratan produk dan harga mengikuti pengumuman etalase.",
          "Dijelaskan syarat dan jadwal pendaftaran etalase katalog lokal; pelapor diarahkan ke pengumuman UKPBJ.",
          _cls("ekatalog", "request", "procedure", False, False, "low", "low")),
    Topic("katalog_ppk", (K, PP), "Akun di katalog elektronik tidak bisa membuat paket e-purchasing",
          "Saat login ke katalog elektronik, menu buat paket tidak tersedia untuk akun saya. Bulan lalu masih bisa. "
          "Ada pengadaan obat yang harus segera dipesan.",
          "Kemungkinan peran akun di katalog dinonaktifkan. Mohon kirim SK dan surat tugas agar kami ajukan "
          "aktivasi ulang.",
          "Peran akun di katalog elektronik sudah diaktifkan kembali; pelapor berhasil membuat paket e-purchasing.",
          _cls("ekatalog", "problem", "software", True, True, "medium", "medium"),
          ask="Mohon kirimkan SK penetapan dan surat tugas untuk pengajuan aktivasi ulang akun katalog.",
          escalate_to=StaffRole.ADMIN_PPE, escalate_reason="Aktivasi ulang peran akun di katalog elektronik."),
    Topic("sikap_pengalaman", (P,), "Data pengalaman di SIKaP tidak bisa disimpan",
          "Saat menambah data pengalaman perusahaan di SIKaP muncul error dan data tidak tersimpan. Kami perlu "
          "data ini untuk tender cepat {tender}.",
          "Mohon coba dengan peramban lain dan pastikan tanggal dan nilai kontrak diisi sesuai format. Bila tetap "
          "error, kirim tangkapan layarnya.",
          "Error karena nilai kontrak diisi dengan titik pemisah ribuan; setelah diisi angka saja data pengalaman "
          "tersimpan.",
          _cls("sikap", "problem", "software", True, True, "medium", "high", "HTTP 500 Internal Server Error"),
          escalate_to=StaffRole.ADMIN_PPE, escalate_reason="Error 500 saat simpan pengalaman di SIKaP."),
    Topic("sikap_pokja", (J,), "Data kualifikasi peserta tidak tampil di evaluasi tender cepat {tender}",
          "Pada evaluasi tender cepat {tender}, data kualifikasi SIKaP salah satu peserta tidak tampil di halaman "
          "evaluasi.",
          "Kami teruskan ke Admin PPE untuk pengecekan; mohon jangan mengubah jadwal evaluasi dulu.",
          "Data SIKaP peserta tampil setelah penyedia memperbarui dan mengirim ulang data kualifikasinya.",
          _cls("sikap", "problem", "software", True, True, "high", "high"),
          escalate_to=StaffRole.ADMIN_PPE, escalate_reason="Data SIKaP peserta tidak tampil; mungkin perlu ke LKPP."),
    Topic("error_evaluasi", (J,), "Error 500 saat membuka halaman evaluasi tender {tender}",
          "Setiap membuka halaman evaluasi tender {tender} muncul 'Error 500 – Terjadi kesalahan pada server'. "
          "Sudah dicoba di Chrome dan Firefox.",
          "Terima kasih, laporan kami terima dan sedang dicek oleh Admin PPE.",
          "Admin PPE membersihkan cache aplikasi dan memperbaiki data evaluasi; halaman evaluasi sudah bisa dibuka.",
          _cls("spse", "problem", "software", True, True, "high", "high", "Error 500"),
          escalate_to=StaffRole.ADMIN_PPE,
          escalate_reason="Error 500 di halaman evaluasi; cek log, bila perlu ke LKPP."),
    Topic("dekripsi", (J,), "Dokumen penawaran salah satu peserta tender {tender} tidak bisa dibuka",
          "Saat pembukaan penawaran tender {tender}, dokumen penawaran dari satu peserta gagal didekripsi. Peserta "
          "lain normal.",
          "Mohon catat nama peserta dan pesan error, dan jangan mengubah jadwal sebelum ada hasil pemeriksaan.",
          "Setelah pemeriksaan Admin PPE bersama Helpdesk LKPP dokumen berhasil dibuka; Pokja melanjutkan evaluasi.",
          _cls("spse", "problem", "software", True, True, "high", "high", "Gagal dekripsi: kunci tidak cocok"),
          escalate_to=StaffRole.ADMIN_PPE,
          escalate_reason="Gagal dekripsi penawaran; siapkan eskalasi ke Helpdesk LKPP."),
    Topic("akun_pokja", (J, SpseRole.PA_KPA), "Permohonan akun Pokja Pemilihan baru",
          "Sesuai SK Kepala UKPBJ ada tiga anggota Pokja baru. Bagaimana prosedur pembuatan akun SPSE untuk mereka?",
          "Akun non-penyedia dibuat oleh Admin Agency berdasarkan surat permohonan dengan lampiran SK dan data "
          "pegawai (nama, NIP, email aktif). Silakan kirim berkasnya ke helpdesk.",
          "Akun tiga anggota Pokja sudah dibuat oleh Admin Agency dan dikirim ke email masing-masing.",
          _cls("spse", "request", "procedure", False, False, "low", "medium"),
          ask="Mohon kirimkan surat permohonan beserta SK dan data pegawai (nama, NIP, email aktif).",
          escalate_to=StaffRole.ADMIN_PPE, escalate_reason="Pembuatan akun Pokja baru sesuai SK."),
    Topic("ganti_ppk", (K, SpseRole.PA_KPA), "Penggantian PPK karena mutasi, paket {tender}",
          "PPK lama sudah mutasi. Mohon paket {tender} yang sedang berjalan dialihkan ke PPK pengganti sesuai SK.",
          "Mohon kirimkan SK penggantian PPK dan daftar kode paket yang akan dialihkan.",
          "Paket sudah dialihkan ke PPK pengganti oleh Admin Agency.",
          _cls("spse", "request", "procedure", False, True, "medium", "medium"),
          ask="Mohon kirimkan SK penggantian PPK dan daftar kode paket yang akan dialihkan.",
          escalate_to=StaffRole.ADMIN_PPE, escalate_reason="Alihkan paket ke PPK pengganti sesuai SK."),
    Topic("sertifikat", (J, K), "Sertifikat elektronik BSrE gagal dipakai tanda tangan",
          "Saat menandatangani BA hasil pemilihan secara elektronik muncul pesan sertifikat tidak valid.",
          "Pastikan passphrase benar dan sertifikat belum kedaluwarsa. Bila sudah kedaluwarsa, ajukan pembaruan "
          "melalui LPSE.",
          "Sertifikat elektronik sudah diperbarui; penandatanganan berhasil.",
          _cls("spse", "problem", "software", True, True, "medium", "high", "Sertifikat tidak valid"),
          escalate_to=StaffRole.ADMIN_PPE, escalate_reason="Pembaruan sertifikat elektronik BSrE."),
    Topic("pengadaan_langsung", (PP,), "Penyedia tidak ditemukan saat mengundang di pengadaan langsung",
          "Saya membuat paket pengadaan langsung, tetapi nama penyedia yang akan diundang tidak ditemukan di "
          "pencarian.",
          "Penyedia harus sudah terverifikasi dan teragregasi. Mohon cek dengan NPWP penyedia; bila belum terdaftar, "
          "minta penyedia mendaftar dan verifikasi.",
          "Penyedia belum menyelesaikan agregasi data; setelah disetujui verifikator penyedia bisa diundang.",
          _cls("spse", "problem", "procedure", True, False, "medium", "medium"),
          ask="Mohon kirimkan NPWP dan nama penyedia yang akan diundang."),
    Topic("sanggah", (P,), "Cara mengajukan sanggahan tender {tender}",
          "Perusahaan kami dinyatakan gugur pada evaluasi teknis tender {tender}. Bagaimana cara mengajukan "
          "sanggahan di SPSE dan sampai kapan batasnya?",
          "Sanggahan diajukan melalui menu sanggah di halaman tender selama masa sanggah sesuai jadwal. Helpdesk "
          "hanya membantu kendala teknis pengiriman, tidak menilai isi sanggahan.",
          "Dijelaskan cara mengirim sanggahan melalui SPSE; sanggahan terkirim sebelum batas waktu.",
          _cls("spse", "request", "procedure", False, True, "medium", "low")),
    Topic("login_berputar", (P, K, J), "Tidak bisa login SPSE, halaman kembali ke login",
          "Setelah memasukkan User ID dan password, halaman hanya berputar lalu kembali ke halaman login. Sudah "
          "dicoba berkali-kali.",
          "Silakan hapus cache dan cookie peramban, pastikan jam komputer benar, lalu coba mode penyamaran atau "
          "peramban lain.",
          "Setelah cache dibersihkan dan jam komputer disesuaikan, pelapor berhasil login.",
          _cls("spse", "problem", "software", True, False, "low", "medium", "Sesi berakhir, silakan login kembali")),
    Topic("pendampingan", (P,), "Pendampingan upload penawaran tender {tender}",
          "Penyedia datang ke ruang pendampingan (bidding room) untuk dibantu mengisi data kualifikasi dan "
          "mengunggah dokumen penawaran terenkripsi tender {tender}. Formulir konsultasi sudah diisi.",
          "Pendampingan di bidding room: data kualifikasi diisi, dokumen dienkripsi dan diunggah bersama pelapor.",
          "Data kualifikasi dan penawaran berhasil diunggah; bukti pengiriman dicetak untuk pelapor.",
          _cls("spse", "request", "procedure", False, True, "medium", "medium"), channels=(Channel.WALKIN,)),
    Topic("info_publik", (SpseRole.PUBLIK,), "Informasi pengumuman tender pembangunan jalan",
          "Saya ingin tahu di mana melihat pengumuman tender pembangunan jalan desa tahun ini dan siapa pemenangnya.",
          "Daftar dan pengumuman tender dapat dilihat tanpa login di situs LPSE Kabupaten Sukamaju pada menu "
          "Cari Paket.",
          "Pelapor diarahkan ke menu Cari Paket di situs LPSE.",
          _cls("spse", "request", "procedure", False, False, "low", "low")),
    Topic("data_audit", (SpseRole.AUDITOR,), "Permintaan data riwayat tender {tender} untuk audit",
          "Inspektorat memerlukan data riwayat tender {tender} (jadwal, peserta, dan BA hasil pemilihan) untuk "
          "audit kinerja pengadaan.",
          "Permintaan data untuk audit memerlukan surat resmi dari Inspektorat kepada Kepala LPSE; data akan "
          "disiapkan oleh Admin PPE.",
          "Data riwayat tender sudah diserahkan kepada Inspektorat sesuai surat permintaan.",
          _cls("spse", "request", "procedure", False, False, "medium", "medium"),
          escalate_to=StaffRole.KEPALA, escalate_reason="Permintaan data audit perlu persetujuan Kepala LPSE."),
    Topic("undangan_pembuktian", (P,), "Email undangan pembuktian kualifikasi tender {tender} tidak masuk",
          "Kami mendengar dari peserta lain ada undangan pembuktian kualifikasi tender {tender}, tetapi email kami "
          "tidak menerima apa pun.",
          "Undangan juga tampil di menu Inbox pada akun SPSE. Mohon cek folder spam dan Inbox SPSE.",
          "Undangan ditemukan di Inbox SPSE; pelapor hadir pada pembuktian kualifikasi.",
          _cls("spse", "problem", "software", True, True, "medium", "medium")),
]
SPAM: Final = Topic(
    "spam", (SpseRole.PUBLIK,), "PROMO: jasa pembuatan website dan aplikasi murah",
    "Kami menawarkan jasa pembuatan website instansi mulai Rp1.500.000. Hubungi kami untuk penawaran khusus.",
    "", "", {})

CHASERS: Final = [
    "Selamat siang, mohon info perkembangan laporan kami. Terima kasih.",
    "Mohon maaf, apakah laporan kami sudah diproses? Batas waktu tender sudah dekat.",
    "Permisi, kami menanyakan kembali laporan kemarin. Mohon segera dibantu.",
]
INFO_SENT: Final = [
    "Berikut kami lampirkan tangkapan layar pesan error dan data yang diminta.",
    "Sudah kami kirimkan dokumen yang diminta, mohon dicek kembali.",
]
STILL_BROKEN: Final = [
    "Mohon maaf, setelah dicoba lagi masalahnya masih muncul.",
    "Tadi sempat bisa, tetapi sekarang error yang sama muncul lagi.",
]
ASK_TECHNICAL: Final = ("Mohon dikirimkan tangkapan layar pesan yang muncul, kode tender/paket, serta peramban "
                        "yang dipakai agar dapat kami periksa.")
ASK_IDENTITY: Final = ("Agar dapat kami bantu, mohon dilengkapi nama perusahaan/instansi, User ID SPSE, dan kode "
                       "paket atau tender yang dimaksud.")
THANKS: Final = "Terima kasih atas penjelasannya, akan kami coba."
PENDING_REPLY: Final = ("Laporan Bapak/Ibu sudah kami terima dan sedang kami koordinasikan dengan pihak terkait, "
                        "sehingga untuk sementara berstatus pending. Kami akan mengabari kembali setelah ada hasil.")
NOTES: Final = [
    "Sudah dicek di log aplikasi, menunggu konfirmasi Admin PPE.",
    "Ditelepon balik, pelapor belum mengangkat; akan dicoba lagi.",
    "Kasus serupa pernah terjadi bulan lalu, lihat tiket sebelumnya.",
]
CLOSE_NOTES: Final = [
    "Pelapor mengonfirmasi lewat telepon bahwa masalah sudah selesai.",
    "Tidak ada tanggapan pelapor selama 2 hari kerja setelah solusi dikirim; tiket ditutup.",
    "Pelapor menyatakan puas dengan penyelesaian.",
]

REPLY_VIA: Final = {Channel.EMAIL: "email", Channel.PHONE: "phone", Channel.WALKIN: "walkin",
                    Channel.SMS: "sms", Channel.WHATSAPP: "whatsapp"}
STAFFED_CHANNELS: Final = (Channel.PHONE, Channel.WALKIN)  # an officer records these while the requester waits


class DemoNotEmpty(Exception):
    """The database already holds tickets; the demo only fills an empty one."""


class _Infeasible(Exception):
    """A planned ticket does not fit before ``now``; draw another receipt time."""


@dataclass
class _Step:
    at: datetime
    verb: str  # a function of helpdesk.tickets taking (ticket, *, at, **args)
    args: dict[str, Any] = field(default_factory=dict)


@dataclass
class _Plan:
    topic: Topic
    requester: Requester
    channel: str
    status: Status
    outcome: str
    received_at: datetime
    opener: Staff | None
    fill: dict[str, str]
    steps: list[_Step]


# -- entry point --------------------------------------------------------------------------------------------

def fill_demo(*, now: datetime | None = None) -> str:
    """Fill an empty database with the demo office, staff, requesters and tickets; return a summary.

    Raises DemoNotEmpty when any ticket exists. Flushes, never commits.
    """
    if db.session.scalar(select(Ticket.id).limit(1)) is not None:
        raise DemoNotEmpty("the database already has tickets; the demo only fills an empty database")
    now = as_utc(now) if now is not None else utcnow()
    rng = random.Random(SEED)
    office = _office()
    staff, kept_admin = _staff(office)
    requesters = [find_or_create_requester(name=name, organization=org, spse_role=role, email=email, phone=phone)
                  for name, org, role, email, phone in REQUESTERS]
    for requester, (npwp, nik, user_id) in zip(requesters, IDENTITIES):  # what suppliers give for LKPP escalations
        requester.npwp, requester.nik = normalise_npwp(npwp), normalise_nik(nik)
        requester.spse_user_id = normalise_user_id(user_id)
    calendar = calendar_for(office)
    planner = _Planner(calendar=calendar, now=now, rng=rng, staff=staff,
                       working_days=int(settings.get_setting("sla.follow_up_working_days")))
    plans = planner.plan_all(requesters)
    opened = [_apply(plan, office) for plan in sorted(plans, key=lambda p: p.received_at)]
    opened += _todays_walkins(office, staff, requesters, now=now)
    opened += _todays_calls(office, requesters, now=now)
    escalated = _lkpp_escalations(staff, opened, now=now)
    _sweep(now)
    faq = import_seed()
    return (_summary(office, staff, kept_admin, opened, calendar, now)
            + f" Escalated to LKPP: {', '.join(ticket.ref for ticket in escalated) or 'none'}."
            + f" FAQ: {len(faq.created) + len(faq.updated) + len(faq.unchanged)} entries from the LPSE seed pack.")


# -- office, staff ------------------------------------------------------------------------------------------

def _office() -> Office:
    """The office ``helpdesk init`` made, renamed, when it is the only one; else the demo office, made once."""
    offices = db.session.scalars(select(Office).order_by(Office.id)).all()
    if len(offices) == 1:
        office = offices[0]
    else:
        office = next((o for o in offices if o.code == OFFICE["code"] or o.ticket_prefix == OFFICE["ticket_prefix"]),
                      None) or Office(hours=dict(DEFAULT_OFFICE_HOURS))
        db.session.add(office)
    for key, value in OFFICE.items():  # offices have no service module; init writes them directly too
        setattr(office, key, value)
    db.session.flush()
    forget_calendars()  # the zone may have changed
    return office


def _staff(office: Office) -> tuple[dict[str, list[Staff]], Staff | None]:
    """Officers by role, and the admin already in the office (made by ``helpdesk init``), kept as it is."""
    by_role: dict[str, list[Staff]] = {}
    existing_admin = db.session.scalar(select(Staff).where(
        Staff.office_id == office.id, Staff.role == StaffRole.ADMIN.value).order_by(Staff.id).limit(1))
    for name, local, role, phone in STAFF:
        email = f"{local}@{STAFF_DOMAIN}"
        if role == StaffRole.ADMIN and existing_admin is not None:
            officer = existing_admin
        else:
            officer = db.session.scalar(select(Staff).where(Staff.email == email)) or create_staff(
                office=office, email=email, name=name, role=role.value, password=PASSWORD, phone=phone)
        by_role.setdefault(role.value, []).append(officer)
    return by_role, existing_admin


# -- planning -----------------------------------------------------------------------------------------------

class _Planner:
    """Draws receipt times and the steps of each ticket's story, all between receipt and ``now``."""

    def __init__(self, *, calendar: WorkingCalendar, now: datetime, rng: random.Random,
                 staff: dict[str, list[Staff]], working_days: int) -> None:
        self.calendar, self.now, self.rng, self.staff = calendar, now, rng, staff
        self.working_days = working_days
        self.days = self._days_back(calendar.local(now).date())

    def _days_back(self, today: date) -> list[date]:
        """Every calendar day from the WORKING_DAYS_BACK-th working day before today up to today."""
        day, found = today, 0
        while found < WORKING_DAYS_BACK:
            found += self.calendar.is_working_day(day)
            if found < WORKING_DAYS_BACK:
                day -= timedelta(days=1)
        return [day + timedelta(days=n) for n in range((today - day).days + 1)]

    def plan_all(self, requesters: list[Requester]) -> list[_Plan]:
        """One plan per ticket: every story of STORIES, channels dealt from CHANNEL_MIX, topics in turn."""
        rng = self.rng
        stories = [(status, outcome) for status, outcome, count in STORIES for _ in range(count)]
        channels = [channel for channel, count in CHANNEL_MIX.items() for _ in range(count)]
        assert len(channels) == len(stories), "CHANNEL_MIX and STORIES must count the same tickets"
        rng.shuffle(channels)
        topics = list(TOPICS)
        rng.shuffle(topics)
        plans = []
        for index, ((status, outcome), channel) in enumerate(zip(stories, channels)):
            if outcome == "spam":
                topic, channel = SPAM, Channel.EMAIL
            else:
                topic = topics[index % len(topics)]
                channel = topic.channels[0] if topic.channels else channel
            requester, channel = self._requester(topic, channel, requesters)
            plans.append(self._plan(topic, requester, channel, status, outcome))
        return plans

    def _requester(self, topic: Topic, channel: str, requesters: list[Requester]) -> tuple[Requester, str]:
        """Someone who would ask this, reachable on this channel (email needs an address)."""
        if topic is SPAM:
            return find_or_create_requester(name="Promo Web Murah", email="promo@webmurah.example.com"), channel
        fitting = [r for r in requesters if r.spse_role in topic.roles]
        with_email = [r for r in fitting if r.email]
        if channel == Channel.EMAIL and not with_email:
            channel = Channel.PHONE
        return self.rng.choice(with_email if channel == Channel.EMAIL else fitting), channel

    def _plan(self, topic: Topic, requester: Requester, channel: str, status: Status, outcome: str) -> _Plan:
        fill = {"company": requester.organization or requester.name,
                "tender": f"10{self.rng.randint(100_000, 999_999)}000",  # SPSE 4 tender codes: 10nnnnnn000
                "rup": str(self.rng.randint(40_000_000, 59_999_999))}
        wanted = [outcome] + [o for o in AWAITING if o != outcome] if outcome in AWAITING else [outcome]
        for target in wanted:  # "due today" cannot happen after closing time: fall back to another awaiting state
            for _ in range(1500):
                received = self._receipt(channel)
                officer = self._officer(topic)
                opener = officer if channel in STAFFED_CHANNELS else None
                try:
                    steps = self._steps(topic, requester, channel, status, target, received, officer, fill)
                except _Infeasible:
                    continue
                return _Plan(topic, requester, channel, status, target, received, opener, fill, steps)
        raise RuntimeError(f"no receipt time fits a {status} / {outcome} ticket before {self.now.isoformat()}")

    def _receipt(self, channel: str) -> datetime:
        """A receipt time in the last WORKING_DAYS_BACK working days: office hours for calls and visits, mostly."""
        while True:
            day = self.rng.choice(self.days)
            window = self.calendar.window(day)
            if channel in STAFFED_CHANNELS or self.rng.random() < 0.8:
                if window is None:
                    continue
                opening, closing = window
                moment = opening + (closing - opening - timedelta(minutes=5)) * self.rng.random()
            else:  # email, web, WhatsApp and SMS also arrive in the evening and at weekends
                moment = datetime.combine(day, time(0), self.calendar.tz) + timedelta(hours=24 * self.rng.random())
            moment = as_utc(moment).replace(microsecond=0)
            if moment < self.now - timedelta(minutes=2):
                return moment

    def _officer(self, topic: Topic) -> Staff:
        role = StaffRole.TRAINER if topic.key == "pendampingan" else StaffRole.HELPDESK
        return self.rng.choice(self.staff[role.value])

    # Times: officers act in office hours, requesters whenever they like; nothing happens after ``now``.

    def office(self, after: datetime, low: float, high: float) -> datetime:
        """An office-hours moment ``low``..``high`` minutes (of wall time) after ``after``."""
        wanted = after + timedelta(minutes=self.rng.uniform(low, high))
        moment = self.calendar.next_opening(wanted)
        if moment != wanted:  # the office was closed: done some time after opening, not all at 07:30 sharp
            moment += timedelta(minutes=self.rng.uniform(3, 75))
        return self._not_after_now(moment)

    def soon(self, after: datetime) -> datetime:
        """A minute after ``after``: the second half of one action (reply, then mark pending)."""
        return self._not_after_now(after + timedelta(minutes=1))

    def anytime(self, after: datetime, low: float, high: float) -> datetime:
        """A moment ``low``..``high`` minutes after ``after``, at any hour (requesters write at night too)."""
        return self._not_after_now(after + timedelta(minutes=self.rng.uniform(low, high)))

    def _not_after_now(self, moment: datetime) -> datetime:
        if moment > self.now:
            raise _Infeasible
        return as_utc(moment).replace(microsecond=0)

    def _steps(self, topic: Topic, requester: Requester, channel: str, status: Status, outcome: str,
               received: datetime, officer: Staff, fill: dict[str, str]) -> list[_Step]:
        """The story of one ticket after its receipt, as timed service calls. Raises _Infeasible."""
        due = self.calendar.follow_up_due(received, working_days=self.working_days)
        if outcome in AWAITING:
            if sla_state(due=due, first_follow_up_at=None, now=self.now, calendar=self.calendar) != outcome:
                raise _Infeasible
            return self._awaiting(status, received, officer, requester, channel)
        if outcome == "spam":
            at = self.office(received, 10, 240)
            return [_Step(at, "change_status", {"new": Status.CLOSED.value, "actor": officer,
                                                "note": "Email promosi, bukan laporan; ditutup."})]
        steps = [_Step(self.office(received, 1 if channel in STAFFED_CHANNELS else 5, 90), "assign",
                       {"assignee": officer, "actor": officer})]
        if channel not in STAFFED_CHANNELS:
            steps.append(_Step(self.office(steps[-1].at, 1, 15), "classify",
                               {"actor": officer, **_classification(topic, fill)}))
        first = self._follow_up_time(steps[-1].at, received, due, outcome, channel)
        via = self._via(channel, requester, received, first)
        steps += self._after_follow_up(topic, status, outcome, first, officer, via, channel, fill)
        return steps

    def _awaiting(self, status: Status, received: datetime, officer: Staff, requester: Requester,
                  channel: str) -> list[_Step]:
        """No follow-up yet: perhaps assigned, perhaps picked up (open) with a note, perhaps a chaser."""
        steps: list[_Step] = []
        if status == Status.OPEN:
            at = self.office(received, 5, 90)
            steps += [_Step(at, "assign", {"assignee": officer, "actor": officer}),
                      _Step(self.soon(at), "change_status", {"new": Status.OPEN.value, "actor": officer})]
            if self.rng.random() < 0.7:
                self._try(steps, lambda: _Step(self.office(at, 10, 120), "add_note",
                                               {"body": self.rng.choice(NOTES), "actor": officer}))
        elif self.rng.random() < 0.5:
            self._try(steps, lambda: _Step(self.office(received, 5, 120), "assign",
                                           {"assignee": officer, "actor": officer}))
        if self.rng.random() < 0.4:
            last = steps[-1].at if steps else received
            self._try(steps, lambda: _Step(self.anytime(last, 120, 1500), "add_message", {
                "direction": "inbound", "body": self.rng.choice(CHASERS),
                "via": self._via(channel, requester, received, last)}))
        return steps

    @staticmethod
    def _try(steps: list[_Step], make) -> None:
        """Add an optional step when it fits before ``now``."""
        try:
            steps.append(make())
        except _Infeasible:
            pass

    def _follow_up_time(self, after: datetime, received: datetime, due: datetime, outcome: str,
                        channel: str) -> datetime:
        if outcome == "missed":
            return self.office(max(due, after), 20, 1200)
        quick = channel in STAFFED_CHANNELS and self.rng.random() < 0.7  # answered on the spot
        moment = self.office(after, 2, 45) if quick else self.office(after, 10, 300)
        if moment > due:  # met (or reopened, which also follows up in time) must be by the deadline
            raise _Infeasible
        return moment

    def _after_follow_up(self, topic: Topic, status: Status, outcome: str, first: datetime, officer: Staff,
                         via: str, channel: str, fill: dict[str, str]) -> list[_Step]:
        """The first follow-up and what comes after it, ending in ``status``."""
        rng = self.rng
        ask = topic.ask or (ASK_TECHNICAL if topic.classification.get("is_technical") else ASK_IDENTITY)
        text = {key: value.format(**fill) for key, value in
                (("reply", topic.reply), ("solution", topic.solution), ("reason", topic.escalate_reason),
                 ("ask", ask))}
        holder = self._holder(topic)
        reply = lambda at, body: _Step(at, "add_message", {"direction": "outbound", "body": body, "actor": officer,
                                                            "via": via})
        inbound = lambda at, body: _Step(at, "add_message", {"direction": "inbound", "body": body,
                                                              "via": via if via != "walkin" else "phone"})
        if status == Status.ESCALATED:
            escalate = {"role": topic.escalate_to or StaffRole.ADMIN_PPE.value, "actor": officer,
                        "reason": text["reason"] or "Perlu penanganan Admin PPE."}
            if rng.random() < 0.5:  # told the requester it is escalated: that is the follow-up
                steps = [_Step(first, "escalate", {**escalate, "requester_told": True})]
            else:
                steps = [reply(first, text["reply"]),
                         _Step(self.office(first, 20, 600), "escalate", {**escalate, "requester_told": False})]
            steps.append(_Step(self.soon(steps[-1].at), "assign", {"assignee": holder, "actor": officer}))
            self._try(steps, lambda: _Step(self.office(steps[-1].at, 30, 900), "add_note",
                                           {"body": rng.choice(NOTES), "actor": holder}))
            return steps
        if status == Status.PENDING:
            return [reply(first, PENDING_REPLY),
                    _Step(self.soon(first), "change_status", {"new": Status.PENDING.value, "actor": officer,
                                                                         "note": "Menunggu jawaban Admin PPE/LKPP."})]
        if status == Status.WAITING:
            return [reply(first, text["ask"]),
                    _Step(self.soon(first), "change_status", {"new": Status.WAITING.value,
                                                                         "actor": officer})]
        if outcome == "reopened":  # resolved in time, then the requester says it came back
            steps = [_Step(first, "resolve", {"actor": officer, "solution": text["solution"]})]
            if channel in STAFFED_CHANNELS:
                steps.append(_Step(self.office(first, 60, 2880), "reopen", {
                    "actor": officer, "reason": "Pelapor menelepon: " + rng.choice(STILL_BROKEN).lower()}))
            else:
                steps.append(inbound(self.anytime(first, 60, 2880), rng.choice(STILL_BROKEN)))
            return steps
        if status == Status.OPEN:  # answered, requester replied, officer still on it
            steps = [reply(first, text["reply"])]
            self._try(steps, lambda: inbound(self.anytime(first, 30, 1440), THANKS))
            return steps
        steps = self._resolution(topic, first, officer, holder, text, reply, inbound)
        if status == Status.CLOSED:
            steps.append(_Step(self.office(steps[-1].at, 1440, 4320), "change_status", {
                "new": Status.CLOSED.value, "actor": officer, "note": rng.choice(CLOSE_NOTES)}))
        return steps

    def _resolution(self, topic: Topic, first: datetime, officer: Staff, holder: Staff, text: dict[str, str],
                    reply, inbound) -> list[_Step]:
        """A resolved ticket's path: solved at once, answered then solved, asked for more, or escalated first."""
        roll = self.rng.random()
        if roll < 0.3:
            return [_Step(first, "resolve", {"actor": officer, "solution": text["solution"]})]
        if roll < 0.55:
            steps = [reply(first, text["ask"]),
                     _Step(self.soon(first), "change_status", {"new": Status.WAITING.value,
                                                                          "actor": officer})]
            steps.append(inbound(self.anytime(first, 30, 1440), self.rng.choice(INFO_SENT)))
            steps.append(_Step(self.office(steps[-1].at, 20, 600), "resolve",
                               {"actor": officer, "solution": text["solution"]}))
            return steps
        if roll < 0.75 and topic.escalate_to:
            steps = [reply(first, text["reply"]),
                     _Step(self.office(first, 10, 240), "escalate", {
                         "role": topic.escalate_to, "actor": officer, "reason": text["reason"]})]
            steps.append(_Step(self.soon(steps[-1].at), "assign", {"assignee": holder, "actor": officer}))
            steps.append(_Step(self.office(steps[-1].at, 30, 1440), "resolve",
                               {"actor": holder, "solution": text["solution"]}))
            return steps
        return [reply(first, text["reply"]),
                _Step(self.office(first, 5, 600), "resolve", {"actor": officer, "solution": text["solution"]})]

    def _holder(self, topic: Topic) -> Staff:
        """The officer who takes an escalated ticket."""
        return self.rng.choice(self.staff[topic.escalate_to or StaffRole.ADMIN_PPE.value])

    def _via(self, channel: str, requester: Requester, received: datetime, at: datetime) -> str:
        """How the requester is told: the way they came, by phone once a visitor has left."""
        if channel == Channel.WALKIN:
            return "walkin" if at - received < timedelta(hours=2) else "phone"
        if channel == Channel.WEB:
            return "email" if requester.email else "phone"
        return REPLY_VIA[channel]



# -- applying -----------------------------------------------------------------------------------------------

def _classification(topic: Topic, fill: dict[str, str]) -> dict[str, Any]:
    """The topic's LPSE Support fields and Standar LPSE classification, with its tender code."""
    values = dict(topic.classification)
    if "{tender}" in topic.subject + topic.body:
        values["tender_code"] = fill["tender"]
    return values


def _apply(plan: _Plan, office: Office) -> Ticket:
    """Open the planned ticket and run its steps through the ticket service."""
    known: dict[str, Any] = {}
    if plan.opener is not None:  # an officer took the call or the visit and classified it there
        known = _classification(plan.topic, plan.fill)
    elif plan.channel == Channel.WEB:  # the web form asks for the application and the codes
        known = {key: value for key, value in _classification(plan.topic, plan.fill).items()
                 if key in ("application", "tender_code", "error_code")}
    ticket = tickets.open_ticket(
        office=office, requester=plan.requester, channel=plan.channel, subject=plan.topic.subject.format(**plan.fill),
        body=plan.topic.body.format(**plan.fill), received_at=plan.received_at, actor=plan.opener, **known)
    for step in plan.steps:
        getattr(tickets, step.verb)(ticket, at=step.at, **step.args)
    return ticket


def _todays_walkins(office: Office, staff: dict[str, list[Staff]], requesters: list[Requester], *,
                    now: datetime) -> list[Ticket]:
    """This morning's walk-in queue: one visitor served, one at the bidding room, two still waiting."""
    from channels import walkin
    from channels.base import Contact

    def sign_in(requester: Requester, minutes_ago: int, description: str, **form: Any) -> WalkinVisit:
        contact = Contact(name=requester.name, organization=requester.organization, spse_role=requester.spse_role,
                          phone=requester.phone, email=requester.email)
        return walkin.register_visit(walkin.ConsultationRequest(contact=contact, description=description, **form),
                                     office=office, at=now - timedelta(minutes=minutes_ago))

    helpdesk, trainer = staff[StaffRole.HELPDESK.value][0], staff[StaffRole.TRAINER.value][0]
    served = sign_in(requesters[3], 95, "Tidak bisa login ke SPSE, muncul pesan 'User ID atau password salah' "
                     "padahal sudah benar.", application="spse")
    walkin.call_next(office, helpdesk, desk="Meja 1", at=now - timedelta(minutes=90))
    walkin.answer_consultation(served, walkin.ConsultationAnswer(
        analysis="Akun terkunci setelah lima kali salah memasukkan kata sandi.",
        answer="Akun dibuka kuncinya oleh Admin PPE; penyedia berhasil masuk dan mengganti kata sandi.",
        outcome="solved"), officer=helpdesk, at=now - timedelta(minutes=70))
    bidding = sign_in(requesters[6], 60, "Mohon pendampingan unggah dokumen penawaran, batas akhir hari ini "
                      "pukul 15.00.", service_type="bidding_room", application="spse", tender_code="10027382")
    walkin.call_next(office, trainer, desk="Bidding room", at=now - timedelta(minutes=55))
    tickets.record_checklist(bidding.ticket, service_type="bidding_room", actor=trainer,
                             at=now - timedelta(minutes=50), items={
                                 "training_attended": {"result": "yes", "note": ""},
                                 "qualification_filled": {"result": "yes", "note": ""}})
    waiting = [sign_in(requesters[10], 25, "Bagaimana cara menambahkan tenaga ahli di data kualifikasi SIKaP?",
                       application="sikap"),
               sign_in(requesters[1], 10, "Menanyakan jadwal verifikasi dokumen perusahaan baru.",
                       service_type="document_verification")]
    return [served.ticket, bidding.ticket, *(visit.ticket for visit in waiting)]


def _todays_calls(office: Office, requesters: list[Requester], *, now: datetime) -> list[Ticket]:
    """Two calls through Twilio as its webhooks would report them: one answered at a desk and still to be
    logged, one nobody took (a call-back ticket)."""
    from werkzeug.datastructures import MultiDict

    from channels import twilio

    urls = twilio.VoiceUrls(dial_done="", recorded="", desk_answered="")

    def hook(**params: str) -> twilio.Webhook:
        return twilio.Webhook(url="", params=MultiDict({"To": office.phone or "", **params}), signature=None)

    answered, missed = requesters[4].phone, requesters[8].phone
    twilio.answer_call(hook(CallSid="CADEMO0001", From=answered), urls=urls, now=now - timedelta(minutes=40))
    twilio.dial_finished(hook(CallSid="CADEMO0001", DialCallStatus="completed"), urls=urls,
                         now=now - timedelta(minutes=33))
    twilio.call_status(hook(CallSid="CADEMO0001", CallStatus="completed", CallDuration="420"),
                       now=now - timedelta(minutes=33))
    twilio.answer_call(hook(CallSid="CADEMO0002", From=missed), urls=urls, now=now - timedelta(minutes=15))
    twilio.call_status(hook(CallSid="CADEMO0002", CallStatus="no-answer", CallDuration="20"),
                       now=now - timedelta(minutes=14))
    return list(db.session.scalars(select(Ticket).join(CallLog, CallLog.ticket_id == Ticket.id)))


def _lkpp_escalations(staff: dict[str, list[Staff]], opened: list[Ticket], *, now: datetime) -> list[Ticket]:
    """Two tickets the office could not solve, escalated to LKPP some days ago: one by templated email still
    waiting for an answer (its reminder is due), one filed in LPSE Support, confirmed by phone and answered by
    LKPP this morning (the answer waits for an officer's review)."""
    from . import escalations

    officer = staff[StaffRole.HELPDESK.value][0]
    candidates = [ticket for ticket in opened if ticket.status in (Status.OPEN, Status.PENDING)
                  and ticket.requester.email and now - ticket.received_at > timedelta(days=6)
                  and _last_event_at(ticket) < now - timedelta(hours=4)]
    if len(candidates) < 2:
        return []
    by_email, by_tts = candidates[0], candidates[1]
    at = _after_last_event(by_email, now=now)
    escalations.escalate_to_lkpp(
        by_email, actor=officer, channel="email", at=at,
        reason="Kendala pada aplikasi SPSE yang tidak dapat diselesaikan di tingkat LPSE.",
        steps_tried="Membersihkan cache peramban, mencoba peramban lain, memeriksa log server LPSE.")
    at = _after_last_event(by_tts, now=now)
    filed = escalations.escalate_to_lkpp(
        by_tts, actor=officer, channel="tts", external_ref="2611834", at=at,
        reason="Perlu penanganan tim teknis LKPP.", steps_tried="Verifikasi ulang data penyedia oleh Admin PPE.")
    escalations.log_call(filed, officer=officer, called_at=at + timedelta(minutes=15), number="144",
                         reference_given="2611834", outcome="confirmed",
                         note="Petugas call center mengonfirmasi tiket sudah diterima dan diteruskan.")
    escalations.record_answer(filed, via="tts", at=now - timedelta(hours=2), actor=officer,
                              body="Data penyedia sudah kami perbaiki dari sisi LKPP. Mohon penyedia keluar, lalu "
                                   "masuk kembali ke SPSE dan mencoba lagi.")
    return [by_email, by_tts]


def _last_event_at(ticket: Ticket) -> datetime:
    return max(event.created_at for event in ticket.events)


def _after_last_event(ticket: Ticket, *, now: datetime) -> datetime:
    """A moment shortly after the ticket's last event (so its history stays in order), before ``now``."""
    return min(_last_event_at(ticket) + timedelta(minutes=30), now - timedelta(hours=3))


def _sweep(now: datetime) -> None:
    """Run the SLA checks once, as the scheduler would have: warnings, breaches and their notices; then archive
    and queue the daily report of the last working day, as the morning job would have."""
    from escalation import sweep

    from . import report_archive

    sweep.check(now)
    office = db.session.scalar(select(Office).order_by(Office.id).limit(1))
    report = report_archive.archive_daily(office, now=now)
    report_archive.send_daily(report, report_archive.daily_recipients(office), now=now)


# -- summary ------------------------------------------------------------------------------------------------

def _summary(office: Office, staff: dict[str, list[Staff]], kept_admin: Staff | None, opened: list[Ticket],
             calendar: WorkingCalendar, now: datetime) -> str:
    by_status = Counter(t.status for t in opened)
    by_channel = Counter(t.channel for t in opened)
    by_sla = Counter(sla_state(due=t.follow_up_due_at, first_follow_up_at=t.first_follow_up_at, now=now,
                               calendar=calendar) for t in opened if t.status != Status.CLOSED or t.first_follow_up_at)
    first, last = (calendar.local(t.received_at) for t in (opened[0], opened[-1]))
    admin = staff[StaffRole.ADMIN.value][0]
    passwords = f"password {PASSWORD!r}"
    if kept_admin is not None:
        passwords += f"; the admin {kept_admin.email} made by `helpdesk init` was kept as it was"
    return (
        f"Demo data loaded for {office.name} ({office.ticket_prefix}, {office.timezone}): "
        f"{sum(len(group) for group in staff.values())} staff in {len(staff)} roles ({passwords}), "
        f"{count_rows(Requester)} requesters and {len(opened)} tickets, {opened[0].ref} to {opened[-1].ref}, "
        f"received {first:%Y-%m-%d} to {last:%Y-%m-%d}. "
        f"Channels: {_counts(by_channel, list(Channel))}. "
        f"Statuses: {_counts(by_status, list(Status))}. "
        f"Follow-up clock at {calendar.local(now):%Y-%m-%d %H:%M %Z}: {_counts(by_sla, list(SlaState))}. "
        f"Log in as {admin.email}."
    )


def _counts(counter: Counter, order: list[str]) -> str:
    return ", ".join(f"{key} {counter[key]}" for key in order if counter[key])
