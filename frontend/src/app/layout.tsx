import type { Metadata } from "next";
import type { ReactNode } from "react";
import { Nav } from "@/components/Nav";
import "./globals.css";

export const metadata: Metadata = {
  title: "latentdeck",
  description: "Train autoencoders on MNIST and watch the latent space form.",
};

// Applies the saved theme before the first paint (no flash of the wrong theme).
const themeScript = `try{var t=localStorage.getItem("latentdeck-theme");if(t==="light"||t==="dark")document.documentElement.dataset.theme=t}catch(e){}`;

export default function RootLayout({ children }: { children: ReactNode }) {
  return (
    <html lang="en" suppressHydrationWarning>
      <head>
        <script dangerouslySetInnerHTML={{ __html: themeScript }} />
      </head>
      <body>
        <Nav />
        <main className="page">{children}</main>
      </body>
    </html>
  );
}
