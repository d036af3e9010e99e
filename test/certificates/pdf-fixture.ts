/**
 * A certificate as the PDF shows it, for the PDF test and `npm run bench -- pdf`.
 * A helper module: defines no tests.
 */
import type { PdfCertificate } from '../../src/certificates/pdf.ts';

/** A first dose of CoronaVac for `name`, with an HC1 text of the length Dosis issues (the QR's size sets its cost). */
export function pdfCertificate(name: string, more: Partial<PdfCertificate> = {}): PdfCertificate {
  return {
    name,
    birthDate: '1980-05-17',
    identifier: { type: 'nik', masked: '317104********01' },
    vaccine: { name: 'CoronaVac', manufacturer: 'Sinovac Biotech / PT Bio Farma' },
    doseNumber: 1,
    dn: 1,
    sd: 2,
    role: 'primary',
    boosterNumber: null,
    date: '2021-06-10',
    facility: 'Puskesmas Menteng',
    uvci: 'URN:UVCI:01:ID:6Q3F8Z2K1M4N7P9R5T0V#K',
    qr: 'HC1:6BFOXN%TS3DH0YOJ58S S-W5HDC *M0II5XHC9B5G2+$N IOP-IA%NFQGRJPC%OQHIZC4.OI1RM8ZA.A5:S9MKN4NN3F85QNCY0O%0VZ001HOC9JU0D0HT0HB2PL/IB*09B9LW4T*8+DCMH0LDK2%K:XFE70*LP$V25$0Q:J:4MO1P0%0L0HD+9E/HY+4J6TH48S%4K.GJ2PT3QY:GQ3TE2I+-CPHN6D7LLK*2HG%89UV-0LZ 2ZJJ524-LH/CJTK96L6SR9MU9DHGZ%P WUQRENS431T1XCNCF+47AY0-IFO0500TGPN8F5G.41Q2E4T8ALW.INSV$ 07UV5SR+BNQHNML7 /KD3TU 4V*CAT3ZGLQMI/XI%ZJNSBBXK2:UG%UJMI:TU+MMPZ5$/PMX19UE:-PSR3/$NU44CBE6DQ3D7B0FBOFX0DV2DGMB$YPF62I$60/F$Z2I6IFX21XNI-LM%3/DF/U6Z9FEOJVRLVW6K$UG+BKK57:1+D10%4K83F+1VWD1NE',
    issuer: 'Kementerian Kesehatan Republik Indonesia',
    issuedAt: '2021-06-10T03:00:00.000Z',
    expiresAt: '2022-06-10T03:00:00.000Z',
    verifyUrl: 'https://dosis.example.id/verify',
    ...more,
  };
}
